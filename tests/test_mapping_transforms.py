"""Every transform, through the engine's public interface (a one-row mapping)."""

import pytest

from mappings.engine.mapping import build_payload, validate_spec
from mappings.engine.spec import MappingSpec, RowSpec
from mappings.engine.transforms import label as transform_label


def mapped(value, *transforms, target="value_out", **row):
    """What one row with these transforms sends for ``value`` (or its problem)."""
    spec = MappingSpec("id", (RowSpec("v", target, transforms=transforms, **row),))
    result = build_payload(spec, {"id": "u", "v": value})
    if result.problems:
        return ("problem", result.problems[0].code, result.problems[0].reason)
    return result.payload["attributes"][0].get(target, "<absent>")


@pytest.mark.parametrize(
    ("value", "transforms", "expected"),
    [
        ("  Ana  ", ["trim"], "Ana"),
        ("   ", ["trim"], "<absent>"),
        ("MiXeD", ["lower"], "mixed"),
        ("MiXeD", ["upper"], "MIXED"),
        (42, ["string"], "42"),
        (True, ["string"], "true"),
        ("42", ["int"], 42),
        ("42.0", ["int"], 42),
        (7.0, ["int"], 7),
        ("3,5", ["float"], 3.5),
        ("1,234.5", ["float"], 1234.5),
        ("yes", ["bool"], True),
        ("Não", ["bool"], False),
        (0, ["bool"], False),
        ("red, green ,red", ["split"], ["red", "green"]),
        ("a;b", [{"name": "split", "separator": ";"}], ["a", "b"]),
        ("Gold", [{"name": "lookup", "table": {"gold": "premium"}}], "premium"),
        ("zinc", [{"name": "lookup", "table": {"gold": "p"}, "otherwise": "keep"}], "zinc"),
        ("zinc", [{"name": "lookup", "table": {"gold": "p"}, "otherwise": "skip"}], "<absent>"),
        (None, [{"name": "default", "value": "unknown"}], "unknown"),
        ("", [{"name": "default", "value": 0}], 0),
        ("  ", ["trim", {"name": "default", "value": "x"}], "x"),
        ("given", [{"name": "default", "value": "x"}], "given"),
        ([], ["skip_empty"], "<absent>"),
        ({}, ["skip_empty"], "<absent>"),
    ],
)
def test_each_simple_transform_turns_a_value_into_what_braze_gets(value, transforms, expected):
    assert mapped(value, *transforms) == expected


@pytest.mark.parametrize(
    ("value", "transforms", "reason"),
    [
        ("4.5", ["int"], "not a whole number"),
        (True, ["int"], "boolean"),
        ("abc", ["float"], "not a number"),
        ("nan", ["float"], "finite"),
        ("maybe", ["bool"], "yes/no"),
        ({"a": 1}, ["lower", "int"], "expected text"),
        ("zinc", [{"name": "lookup", "table": {"gold": "p"}}], "lookup table"),
    ],
)
def test_a_value_a_transform_cannot_use_is_a_problem_never_a_null(value, transforms, reason):
    outcome = mapped(value, *transforms)

    assert outcome[:2] == ("problem", "invalid")
    assert reason in outcome[2]


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("1990-04-12", {}, "1990-04-12"),
        ("12/04/1990", {}, "1990-04-12"),
        ("04/12/1990", {"order": "MDY"}, "1990-04-12"),
        ("12.04.90", {}, "1990-04-12"),
        ("12 April 1990", {}, "1990-04-12"),
        ("April 12th, 1990", {}, "1990-04-12"),
        ("12-Apr-1990", {}, ("problem",)),
        ("31/02/1990", {}, ("problem",)),
        ("last tuesday", {}, ("problem",)),
    ],
)
def test_dob_reads_birth_dates_as_people_type_them(value, options, expected):
    outcome = mapped(value, {"name": "dob", **options}, target="dob")

    assert outcome == expected if isinstance(expected, str) else outcome[0] == "problem"


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("2026-11-20T10:15:00Z", {}, "2026-11-20T10:15:00Z"),
        ("2026-11-20T10:15:00+01:00", {}, "2026-11-20T09:15:00Z"),
        ("20/11/2026 10:15", {}, "2026-11-20T10:15:00Z"),
        ("20/11/2026 10:15", {"timezone": "America/Sao_Paulo"}, "2026-11-20T13:15:00Z"),
        ("Nov 20, 2026 3:15 pm", {}, "2026-11-20T15:15:00Z"),
        (1795169700, {}, "2026-11-20T10:15:00Z"),
        (1795169700000, {}, "2026-11-20T10:15:00Z"),
    ],
)
def test_datetime_gives_iso_8601_in_utc(value, options, expected):
    assert mapped(value, {"name": "datetime", **options}, target="last_chat") == expected


def test_date_gives_midnight_utc_in_iso_8601():
    assert mapped("20/11/2026", "date", target="renewal") == "2026-11-20T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+55 11 98765-4321", None, "+5511987654321"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phone_gives_e164(value, region, expected):
    options = {"name": "phone", **({"region": region} if region else {})}

    assert mapped(value, options, target="phone") == expected


@pytest.mark.parametrize("value", ["12345", "not a phone", "+1 555"])
def test_an_impossible_phone_number_is_a_problem(value):
    assert mapped(value, {"name": "phone", "region": "US"}, target="phone")[0] == "problem"


@pytest.mark.parametrize(
    ("target", "transform", "value", "expected"),
    [
        ("gender", "gender", "Female", "F"),
        ("gender", "gender", "masculino", "M"),
        ("gender", "gender", "Non-binary", "O"),
        ("gender", "gender", "Prefer not to say", "P"),
        ("country", "country", "Brazil", "BR"),
        ("country", "country", "DEU", "DE"),
        ("country", "country", "uk", "GB"),
        ("country", "country", "united states", "US"),
        ("language", "language", "English", "en"),
        ("language", "language", "pt_BR", "pt"),
        ("language", "language", "español", "es"),
        ("language", "language", "fra", "fr"),
    ],
)
def test_codes_are_normalised_to_brazes(target, transform, value, expected):
    assert mapped(value, transform, target=target) == expected


@pytest.mark.parametrize("transform", ["gender", "country", "language"])
def test_an_unknown_code_is_a_problem_not_a_guess(transform):
    assert mapped("Atlantis", transform, target=transform)[0] == "problem"


def test_transforms_compose_in_the_order_given():
    assert mapped("  GOLD ", "trim", "lower", {"name": "lookup", "table": {"gold": 3}}) == 3


@pytest.mark.parametrize(
    ("transforms", "message"),
    [
        (["lowr"], "unknown transform 'lowr'"),
        ([{"name": "phone", "region": "Narnia"}], "region"),
        ([{"name": "date", "timezone": "Mars/Base"}], "IANA"),
        ([{"name": "dob", "order": "YDM"}], "order"),
        ([{"name": "lookup"}], "'table' is required"),
        ([{"name": "default", "value": None}], "null"),
        ([{"name": "trim", "extra": 1}], "unknown option 'extra'"),
        ([42], "unknown transform"),
    ],
)
def test_a_bad_transform_configuration_is_reported_with_its_location(transforms, message):
    spec = MappingSpec("id", (RowSpec("a", "x"), RowSpec("v", "y", transforms=tuple(transforms))))

    [problem] = validate_spec(spec)

    assert problem.location == "rows[1].transforms[0]"
    assert message in problem.message


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        ("trim", "trim"),
        (
            {"name": "phone", "region_from": "answers.country", "region": "BR"},
            "phone (region_from: answers.country, region: BR)",
        ),
        ({"name": "lookup", "table": {"sim": True}}, 'lookup (table: {"sim": true})'),
        ({"name": "coerce", "empty_words": ["0", "n/a"]}, 'coerce (empty_words: ["0", "n/a"])'),
        (42, "42"),
    ],
)
def test_a_transform_reads_as_its_name_and_options_not_as_code(config, shown):
    assert transform_label(config) == shown
