"""The transforms bot platforms need: date objects, a phone's region from the conversation, and
text coerced by the target's type. Through the engine's public interface, like
test_mapping_transforms."""

import pytest

from mappings.engine.mapping import build_payload, compile_mapping, validate_spec
from mappings.engine.spec import MappingSpec, RowSpec
from tests.test_mapping_transforms import mapped


def mapped_from(conversation: dict, *rows: RowSpec) -> dict:
    """The attributes (and problems) one mapping sends for ``conversation``."""
    result = build_payload(MappingSpec("id", rows), {"id": "u-1", **conversation})
    attributes = {k: v for k, v in result.payload["attributes"][0].items() if k != "external_id"}
    return {"attributes": attributes, "problems": [p.reason for p in result.problems]}


# -- dates as objects of their parts (Dialogflow CX's @sys.date sent raw) ------------------------


@pytest.mark.parametrize(
    ("value", "transform", "target", "expected"),
    [
        ({"year": 1990.0, "month": 4.0, "day": 12.0}, "dob", "dob", "1990-04-12"),
        ({"year": 1990, "month": 4, "day": 12}, "dob", "dob", "1990-04-12"),
        ({"year": "1990", "month": "04", "day": "12"}, "dob", "dob", "1990-04-12"),
        ({"year": 2026.0, "month": 11.0, "day": 20.0}, "date", "first_seen",
         "2026-11-20T00:00:00Z"),
        ({"year": 2026.0, "month": 11.0, "day": 20.0, "hours": 9.0, "minutes": 5.0,
          "seconds": 0.0, "nanos": 0.0}, "datetime", "seen_at", "2026-11-20T09:05:00Z"),
    ],
)  # fmt: skip
def test_date_transforms_read_a_year_month_day_object(value, transform, target, expected):
    assert mapped(value, transform, target=target) == expected


def test_a_date_object_without_a_zone_is_read_in_the_configured_zone():
    value = {"year": 2026.0, "month": 11.0, "day": 20.0, "hours": 9.0, "minutes": 5.0}
    transform = {"name": "datetime", "timezone": "America/Sao_Paulo"}

    assert mapped(value, transform, target="seen_at") == "2026-11-20T12:05:00Z"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"year": 1990.0, "month": 2.0, "day": 30.0}, "not a real date"),
        ({"year": 1990.5, "month": 4.0, "day": 12.0}, "'year' is not a whole number"),
        ({"year": 1990.0, "month": 4.0}, "expected year, month and day"),
        ({"year": 1990.0, "month": 4.0, "day": 12.0, "zone": "X"}, "expected year, month and day"),
        ({"year": True, "month": 4.0, "day": 12.0}, "'year' is not a whole number"),
    ],
)
def test_an_unusable_date_object_is_a_problem_naming_the_part(value, reason):
    problem = mapped(value, "dob", target="dob")

    assert problem[0] == "problem" and reason in problem[2]


# -- a phone's region from another field of the conversation -------------------------------------

PHONE_FROM_COUNTRY = {"name": "phone", "region_from": "profile.country", "region": "US"}


@pytest.mark.parametrize(
    ("country", "phone", "expected"),
    [
        ("BR", "(11) 98765-4321", "+5511987654321"),
        ("br", "(11) 98765-4321", "+5511987654321"),
        ("Brasil", "(11) 98765-4321", "+5511987654321"),
        ("United Kingdom", "07911 123456", "+447911123456"),
        ("Japan", "090-1234-5678", "+819012345678"),
        ("Narnia", "(202) 555-0143", "+12025550143"),  # unknown country: the fixed region
        (None, "(202) 555-0143", "+12025550143"),  # no country: the fixed region
        ("Portugal", "+55 11 98765-4321", "+5511987654321"),  # an international number wins
    ],
)
def test_phone_takes_its_region_from_the_conversation_with_the_fixed_one_as_fallback(
    country, phone, expected
):
    conversation = {"profile": {"phone": phone, "country": country}}
    row = RowSpec("profile.phone", "phone", transforms=(PHONE_FROM_COUNTRY,))

    assert mapped_from(conversation, row)["attributes"] == {"phone": expected}


def test_without_a_fallback_a_national_number_with_no_country_is_a_problem():
    transform = {"name": "phone", "region_from": "profile.country"}
    row = RowSpec("profile.phone", "phone", transforms=(transform,))

    result = mapped_from({"profile": {"phone": "(11) 98765-4321"}}, row)

    assert result == {"attributes": {}, "problems": ["not a phone number (no region)"]}


def test_each_record_gets_its_own_region_from_one_compiled_mapping():
    row = RowSpec("profile.phone", "phone", transforms=(PHONE_FROM_COUNTRY,))
    compiled = compile_mapping(MappingSpec("id", (row,)))
    records = [
        {"id": "a", "profile": {"phone": "(11) 98765-4321", "country": "BR"}},
        {"id": "b", "profile": {"phone": "912 345 678", "country": "Portugal"}},
        {"id": "c", "profile": {"phone": "(11) 98765-4321"}},  # read as a US number: invalid
    ]

    results = [compiled.run(record) for record in records]

    assert [r.payload["attributes"][0].get("phone") for r in results] == [
        "+5511987654321", "+351912345678", None]  # fmt: skip
    assert [p.reason for p in results[2].problems] == ["not a valid phone number"]


def test_a_constant_phone_with_region_from_is_mapped_per_record_not_folded_once():
    row = RowSpec("912 345 678", "phone", source_type="constant", transforms=(PHONE_FROM_COUNTRY,))

    assert mapped_from({"profile": {"country": "PT"}}, row)["attributes"] == {
        "phone": "+351912345678"
    }


# -- coerce: text cast by the target's type -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        ("true", "opted_in", True),  # a custom attribute: plainly a boolean
        ("False", "opted_in", False),
        ("3", "trips", 3),
        ("3.5", "score", 3.5),
        (3.0, "trips", 3.0),  # not text: left as it came
        ("0", "loyalty_points", 0),
        ("007", "agent_code", "007"),  # a leading zero is text (codes, phone numbers)
        ("12345678901234567890", "order_ref", "12345678901234567890"),  # too long for a number
        ("Lisbon", "favourite_city", "Lisbon"),
        (["3", "null", "x"], "tags", [3, "x"]),
        ("1990-04-12", "dob", "1990-04-12"),  # standard: dob expects a date
        ("12/04/1990", "dob", "1990-04-12"),
        ({"year": 1990.0, "month": 4.0, "day": 12.0}, "dob", "1990-04-12"),
        ("true", "email_open_tracking_disabled", True),
        ("20/11/2026 10:15", "date_of_first_session", "2026-11-20T10:15:00Z"),
        (3.0, "first_name", "3"),  # standard text: a whole float as a whole number
        (True, "home_city", "true"),
    ],
)
def test_coerce_casts_by_what_the_target_expects(value, target, expected):
    assert mapped(value, "coerce", target=target) == expected


@pytest.mark.parametrize("value", ["null", "NULL", "undefined", " null ", "", "   "])
@pytest.mark.parametrize("target", ["first_name", "opted_in", "dob", "trips"])
def test_coerce_treats_unset_markers_as_empty_and_never_sends_them(value, target):
    assert mapped(value, "coerce", target=target) == "<absent>"


def test_empty_words_name_more_unset_markers_like_voiceflows_zero():
    transform = {"name": "coerce", "empty_words": ["0", "N/A"]}

    assert mapped("0", transform, target="first_name") == "<absent>"
    assert mapped("n/a", transform, target="first_name") == "<absent>"
    assert mapped("0", "coerce", target="loyalty_points") == 0  # without the option: a zero


def test_an_unset_marker_can_still_fall_back_to_a_default():
    assert mapped("null", "coerce", {"name": "default", "value": "unknown"}) == "unknown"


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("3", {"type": "text"}, "3"),
        ("3", {"type": "number"}, 3),
        ("3,5", {"type": "number"}, 3.5),
        ("3.0", {"type": "integer"}, 3),
        ("yes", {"type": "boolean"}, True),
        ("0", {"type": "boolean"}, False),
        ("04/12/1990", {"type": "date", "order": "MDY"}, "1990-04-12"),
        ("20/11/2026 10:15", {"type": "datetime", "timezone": "Europe/Lisbon"},
         "2026-11-20T10:15:00Z"),
        ("true", {"type": "auto"}, True),
    ],
)  # fmt: skip
def test_a_custom_attributes_type_is_given_by_the_type_option(value, options, expected):
    assert mapped(value, {"name": "coerce", **options}, target="custom") == expected


def test_the_type_option_overrides_the_targets_own():
    assert mapped("3", {"name": "coerce", "type": "text"}, target="trips") == "3"
    assert mapped("3", {"name": "coerce", "type": "number"}, target="first_name")[0] == "problem"


PURCHASE_AND_EVENT = [
    ("EUR", "purchases[0].currency"), ("sku-1", "purchases[0].product_id"),
    ("1.5", "purchases[0].price"), ("visit", "events[0].name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "row", "value", "expected"),
    [
        ("purchases[0].price", {}, "9.90", 9.9),
        ("purchases[0].quantity", {}, "2", 2),
        ("events[0].time", {}, "2026-11-20T10:15:00Z", "2026-11-20T10:15:00Z"),
        ("events[0].properties.trips", {}, "3", 3),
        ("trips", {"operation": "increment"}, "2", {"inc": 2}),
    ],
)
def test_coerce_knows_events_purchases_and_operations(target, row, value, expected):
    spec = MappingSpec(
        "id",
        (
            RowSpec("v", target, transforms=("coerce",), **row),
            *(
                RowSpec(constant, other, source_type="constant", transforms=("coerce",))
                for constant, other in PURCHASE_AND_EVENT
                if other != target
            ),
        ),
    )
    payload = build_payload(spec, {"id": "u", "v": value}).payload
    kind, _, field = target.partition("[0].")
    if kind in ("events", "purchases"):
        found = payload[kind][0]
        for key in field.split("."):
            found = found[key]
    else:
        found = payload["attributes"][0][target]

    assert found == expected


def test_a_value_coerce_cannot_cast_is_a_problem_never_a_null():
    assert mapped("maybe", {"name": "coerce", "type": "boolean"}) == (
        "problem", "invalid", "not a yes/no value")  # fmt: skip
    assert mapped("soon", "coerce", target="dob")[0] == "problem"


def test_coerce_makes_an_identifier_text():
    spec = MappingSpec("id", (), identifier_transforms=("coerce",))

    assert build_payload(spec, {"id": 4821.0}).payload["attributes"][0]["external_id"] == "4821"


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ({"name": "coerce", "type": "money"}, "coerce: 'type' must be one of auto, text, number"),
        ({"name": "coerce", "typ": "text"}, "coerce: unknown option 'typ'"),
        ({"name": "coerce", "order": "DYM"}, "coerce: 'order' must be one of DMY, MDY, YMD"),
        ({"name": "coerce", "empty_words": "0"}, "coerce: 'empty_words' must be a list of texts"),
        ({"name": "phone", "region_from": ""}, "phone: 'region_from' must be a path"),
        ({"name": "phone", "region_from": "a.given-name"}, "quote keys with dashes"),
        ({"name": "phone", "region_from": 3}, "phone: 'region_from' must be a path"),
    ],
)
def test_bad_options_are_problems_naming_the_option(transform, message):
    problems = validate_spec(MappingSpec("id", (RowSpec("v", "x", transforms=(transform,)),)))

    assert [problem.location for problem in problems] == ["rows[0].transforms[0]"]
    assert message in problems[0].message
