"""The engine's read rows: which fields to ask Braze for, and an exported profile as bot names."""

from mappings.engine.lookup_mapping import LookupAnswer, compile_lookup, read_profile
from mappings.engine.spec import LookupRowSpec

PROFILE = {
    "external_id": "u-1",
    "first_name": "  Ana ",
    "email": "ANA@EXAMPLE.COM",
    "custom_attributes": {"tier": "gold", "address": {"city": "Porto"}, "visits": "7"},
}


def test_it_asks_braze_only_for_the_top_level_fields_its_rows_read_once_each():
    compiled = compile_lookup([
        LookupRowSpec("first_name", "name"),
        LookupRowSpec("custom_attributes.tier", "tier"),
        LookupRowSpec("custom_attributes.address.city", "city"),
    ])  # fmt: skip
    assert compiled.fields_to_export == ("first_name", "custom_attributes")


def test_it_maps_standard_custom_and_nested_fields_to_bot_names_through_transforms():
    compiled = compile_lookup([
        LookupRowSpec("first_name", "given-name", ("trim",)),
        LookupRowSpec("email", "email", ("lower",)),
        LookupRowSpec("custom_attributes.address.city", "city"),
        LookupRowSpec("custom_attributes.visits", "visits", ("int",)),
    ])  # fmt: skip
    read = read_profile(compiled, PROFILE)
    assert read.values == {
        "given-name": "Ana", "email": "ana@example.com", "city": "Porto", "visits": 7,
    }  # fmt: skip
    assert read.problems == []


def test_a_field_braze_does_not_hold_is_left_out_not_answered_as_null():
    compiled = compile_lookup([LookupRowSpec("custom_attributes.plan", "plan")])
    assert read_profile(compiled, PROFILE).values == {}


def test_a_value_a_transform_refuses_is_a_problem_masked_when_sensitive_never_an_exception():
    profile = {**PROFILE, "dob": "3 Smarch 1990"}
    dates = ({"name": "date", "order": "DMY"},)
    compiled = compile_lookup([
        LookupRowSpec("dob", "birth_date", dates, sensitive=True),
        LookupRowSpec("dob", "shown_birth_date", dates),
        LookupRowSpec("custom_attributes.tier", "tier"),
    ])  # fmt: skip
    read = read_profile(compiled, profile)
    assert read.values == {"tier": "gold"}
    hidden, shown = read.problems
    assert hidden.bot_name == "birth_date"
    assert hidden.value == "••••"
    assert "Smarch" not in str(hidden.as_dict())
    assert shown.value == "3 Smarch 1990"
    assert "Smarch" in shown.reason


def test_rows_naming_no_exportable_field_are_listed_and_left_out():
    compiled = compile_lookup([
        LookupRowSpec("favourite_colour", "colour"),
        LookupRowSpec("email.domain", "domain"),
        LookupRowSpec("email", "email", ("no-such-transform",)),
        LookupRowSpec("email", "mail"),
    ])  # fmt: skip
    assert [row.spec.bot_name for row in compiled.rows] == ["mail"]
    assert [problem.bot_name for problem in compiled.problems] == ["colour", "domain", "email"]


def test_the_generic_answer_says_success_only_when_braze_could_be_read():
    assert LookupAnswer("not_found", "not_found", "braze").as_dict()["success"] is True
    unknown = LookupAnswer("unknown", "braze_slow", None, message="slow").as_dict()
    assert unknown == {"success": False, "status": "unknown", "outcome": "braze_slow",
                       "source": None, "fields": {}, "message": "slow"}  # fmt: skip
