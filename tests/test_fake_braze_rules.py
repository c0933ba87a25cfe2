"""Braze's /users/track body rules, as the fake Braze applies them (pure functions, no HTTP)."""

import pytest

from mappings.fake_braze import rules
from mappings.fake_braze.attribute_rules import STANDARD_ATTRIBUTES
from mappings.fake_braze.identifier_rules import IDENTIFIER_REQUIRED, TWO_PRIMARIES
from mappings.fake_braze.reference_codes import COUNTRY_CODES, CURRENCY_CODES, LANGUAGE_CODES
from mappings.fake_braze.value_checks import not_valid

EVENT = {"external_id": "user-1", "name": "chat_started", "time": "2026-11-20T10:15:00Z"}
PURCHASE = {
    "external_id": "user-1",
    "product_id": "plan-pro",
    "currency": "EUR",
    "price": 12.5,
    "time": "2026-11-20T10:15:00+01:00",
}


def attribute_problem(**fields):
    return rules.object_error("attributes", {"external_id": "user-1", **fields})


def event_problem(**changes):
    return rules.object_error("events", {**EVENT, **changes})


def purchase_problem(**changes):
    return rules.object_error("purchases", {**PURCHASE, **changes})


# -- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    [
        {"external_id": "user-1"},
        {"braze_id": "5cd8d7d1b3b1d1"},
        {"user_alias": {"alias_name": "conv-42", "alias_label": "chatbot"}},
        {"email": "ana@example.com"},
        {"phone": "+14155552671"},
        {"email": "ana@example.com", "phone": "+14155552671"},
    ],
)
def test_it_accepts_each_kind_of_identifier(identifier):
    assert rules.object_error("attributes", {**identifier, "first_name": "Ana"}) is None


def test_it_rejects_two_primary_identifiers():
    obj = {"external_id": "user-1", "braze_id": "abc"}

    assert rules.object_error("attributes", obj) == TWO_PRIMARIES


def test_it_rejects_an_object_without_any_identifier_with_brazes_text():
    problem = rules.object_error("events", {k: v for k, v in EVENT.items() if k != "external_id"})

    assert problem == "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"


def test_it_uses_an_email_as_identifier_only_when_it_is_valid():
    assert rules.object_error("events", {**EVENT, "external_id": None, "email": "a@b.io"}) is None
    problem = rules.object_error("attributes", {"email": "not-an-email"})

    assert problem == "The value provided for the 'email' field is not a valid email."


def test_it_treats_email_as_an_ordinary_attribute_when_a_primary_is_present():
    assert attribute_problem(email="ana@example.com", phone="0044 20 7946 0958") is None
    assert "'email'" in attribute_problem(email="ana@@example")


def test_it_limits_external_id_to_987_utf8_bytes():
    assert attribute_problem(external_id="é" * 493) is None  # 986 bytes
    assert "'external_id'" in attribute_problem(external_id="é" * 494)  # 988 bytes


def test_it_rejects_a_user_alias_without_a_label():
    problem = rules.object_error("attributes", {"user_alias": {"alias_name": "conv-42"}})

    assert "'user_alias'" in problem


# -- standard attributes ----------------------------------------------------------------------

VALID_STANDARD = {
    "first_name": "Ana",
    "last_name": "Müller",
    "home_city": "Lisboa",
    "email": "ana@example.com",
    "phone": "+351912345678",
    "dob": "1990-02-28",
    "country": "PT",
    "language": "pt",
    "gender": "F",
    "time_zone": "Europe/Lisbon",
    "email_subscribe": "opted_in",
    "push_subscribe": "unsubscribed",
    "email_open_tracking_disabled": False,
    "email_click_tracking_disabled": True,
    "current_location": {"latitude": 38.72, "longitude": -9.14},
    "date_of_first_session": "2026-01-02T03:04:05Z",
    "date_of_last_session": "2026-11-20T10:15:00.123+00:00",
    "subscription_groups": [{"subscription_group_id": "sg-1", "subscription_state": "subscribed"}],
}


def test_it_accepts_every_standard_attribute_in_its_documented_format():
    assert attribute_problem(**VALID_STANDARD) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("gender", None),
        ("gender", "P"),
        ("country", None),
        ("first_name", None),
        ("email_subscribe", "subscribed"),
        ("time_zone", "America/New_York"),
    ],
)
def test_it_accepts_null_and_the_other_documented_values(name, value):
    assert attribute_problem(**{name: value}) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dob", "1990-02-30"),
        ("dob", "1990/02/28"),
        ("dob", "28-02-1990"),
        ("country", "us"),
        ("country", "USA"),
        ("country", "XX"),
        ("language", "EN"),
        ("language", "english"),
        ("gender", "male"),
        ("gender", "f"),
        ("time_zone", "Mars/Olympus_Mons"),
        ("time_zone", "CEST +2"),
        ("email_subscribe", "yes"),
        ("push_subscribe", True),
        ("email_open_tracking_disabled", "true"),
        ("current_location", {"latitude": 91, "longitude": 0}),
        ("current_location", {"latitude": "38.7", "longitude": -9.1}),
        ("date_of_first_session", "yesterday"),
        ("subscription_groups", [{"subscription_group_id": "sg", "subscription_state": "on"}]),
        ("first_name", "x" * 256),
        ("country", ["US"]),
    ],
)
def test_it_rejects_a_standard_attribute_in_the_wrong_format(name, value):
    assert attribute_problem(**{name: value}) == not_valid(name, STANDARD_ATTRIBUTES[name][1])


# -- custom attributes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "x" * 255,
        42,
        -1.5,
        True,
        None,
        "2026-11-20T10:15:00Z",
        ["pizza", "sushi"],
        {"inc": 3},
        {"add": ["sushi"], "remove": ["pizza"]},
        {"$add": [{"id": 1}]},
        {"plan": {"name": "pro", "renews": {"$time": "2026-12-01"}}, "seats": 3},
        [{"sku": "a-1", "qty": 2}],
    ],
)
def test_it_accepts_the_documented_custom_attribute_values(value):
    assert attribute_problem(favourite=value) is None


def test_it_rejects_a_custom_attribute_key_starting_with_a_dollar():
    assert attribute_problem(**{"$plan": "pro"}) == "'$plan' is not a valid custom attribute name"


def test_it_rejects_a_custom_attribute_key_over_255_characters():
    assert "custom attribute name" in attribute_problem(**{"k" * 256: "v"})


def test_it_rejects_a_custom_string_over_255_characters():
    problem = attribute_problem(nickname="x" * 256)

    assert problem == "The value provided for the 'nickname' field is longer than 255 characters."


@pytest.mark.parametrize(
    "value",
    [
        {"inc": 1.5},
        {"inc": "1"},
        {"add": "sushi"},
        {"$update": {"id": 1}},
        {"plan.name": "pro"},
        {"plan name": "pro"},
        {"plan": {"$price": 1}},
        {"renews": {"$time": "next week"}},
        ["ok", "x" * 256],
    ],
)
def test_it_rejects_malformed_operations_and_nested_objects(value):
    assert attribute_problem(favourite=value) is not None


def test_it_rejects_a_nested_object_over_100_kb():
    big = {f"key_{i}": "v" * 200 for i in range(600)}

    assert "larger than 100 KB" in attribute_problem(profile=big)


@pytest.mark.parametrize("flag", ["_update_existing_only", "_merge_objects"])
def test_it_requires_object_flags_to_be_booleans(flag):
    assert attribute_problem(**{flag: False}) is None
    assert attribute_problem(**{flag: "false"}) == f"'{flag}' must be a boolean"


# -- events -----------------------------------------------------------------------------------


def test_it_accepts_an_event_with_properties_of_every_documented_type():
    properties = {"topic": "billing", "turns": 7, "ok": True, "at": "2026-11-20T10:00:00Z"}
    properties |= {"tags": ["a", "b"], "bot": {"name": "helper", "version": 2}}

    assert event_problem(properties=properties, app_id="app-1") is None


def test_it_requires_an_event_time():
    assert rules.object_error("events", {k: v for k, v in EVENT.items() if k != "time"}) == (
        "'time' is required"
    )


@pytest.mark.parametrize("time", ["20/11/2026", "", 1700000000, "2026-13-01T00:00:00Z"])
def test_it_rejects_an_event_time_that_is_not_iso_8601(time):
    assert event_problem(time=time) == "'time' is not valid"


@pytest.mark.parametrize("name", [None, "", 42])
def test_it_requires_a_non_empty_event_name(name):
    assert event_problem(name=name) in ("'name' is required", "'name' is not valid")


@pytest.mark.parametrize("key", ["$source", "time", "event_name", "", "k" * 256])
def test_it_rejects_reserved_or_malformed_property_keys(key):
    assert "not a valid property name" in event_problem(properties={key: "x"})


def test_it_rejects_a_property_string_over_255_characters():
    assert "longer than 255" in event_problem(properties={"summary": "x" * 256})


def test_it_rejects_properties_that_are_not_an_object():
    assert event_problem(properties=["a"]) == "'properties' is not valid"


def test_it_limits_flat_properties_to_50_kb():
    flat = {f"p{i}": "v" * 250 for i in range(210)}

    assert event_problem(properties=flat) == "'properties' is too large"


# -- purchases --------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [{}, {"quantity": 100}, {"quantity": 1}, {"price": -12.5}])
def test_it_accepts_a_valid_purchase(changes):
    assert purchase_problem(**changes) is None


@pytest.mark.parametrize("quantity", [101, 0, 2.0, "3", True])
def test_it_rejects_a_quantity_outside_1_to_100(quantity):
    assert purchase_problem(quantity=quantity) == "'quantity' is not valid"


@pytest.mark.parametrize("currency", ["usd", "XYZ", "EURO", None])
def test_it_rejects_a_currency_that_is_not_an_iso_4217_code(currency):
    assert purchase_problem(currency=currency) == "'currency' is not valid"


@pytest.mark.parametrize("price", ["12.50", None, True])
def test_it_requires_a_numeric_price(price):
    assert purchase_problem(price=price) == "'price' is not valid"


def test_it_requires_a_product_id_and_a_time():
    assert purchase_problem(product_id=None) == "'product_id' is required"
    assert rules.object_error("purchases", {k: v for k, v in PURCHASE.items() if k != "time"}) == (
        "'time' is required"
    )


# -- the whole body ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"text"', b'{"a": NaN}', b"\xff\xfe", b""])
def test_it_refuses_to_parse_a_body_that_is_not_a_json_object(raw):
    with pytest.raises(rules.BodyError, match="Error while parsing request body"):
        rules.parse_body(raw)


def test_it_counts_the_object_limit_across_the_three_arrays_by_default():
    body = {"attributes": [{}] * 40, "events": [{}] * 30, "purchases": [{}] * 5}

    assert rules.limit_error(body, 75) is None
    assert rules.limit_error({**body, "purchases": [{}] * 6}, 75) == "Max Input Length Exceeded"


def test_it_can_count_the_object_limit_per_array_for_older_contracts():
    body = {"attributes": [{}] * 75, "events": [{}] * 75}

    assert rules.limit_error(body, 75, "per_array") is None
    assert rules.limit_error({**body, "events": [{}] * 76}, 75, "per_array") is not None


@pytest.mark.parametrize("body", [{}, {"partner": "x"}, {"attributes": {"external_id": "u"}}])
def test_it_needs_at_least_one_array(body):
    with pytest.raises(rules.BodyError, match="Valid data must be provided"):
        rules.validate_body(body)


def test_it_reports_counts_and_errors_with_array_and_index():
    body = {"attributes": [{"external_id": "u"}, {"first_name": "x"}], "events": [EVENT, 5]}

    status, answer = rules.answer_for(rules.validate_body(body))

    assert status == 201
    assert answer["attributes_processed"] == 1
    assert answer["events_processed"] == 1
    assert "purchases_processed" not in answer
    assert [(e["input_array"], e["index"]) for e in answer["errors"]] == [
        ("attributes", 1),
        ("events", 1),
    ]


def test_it_answers_400_when_no_object_is_valid():
    status, answer = rules.answer_for(rules.validate_body({"attributes": [{"x": 1}]}))

    assert status == 400
    assert answer["message"] == rules.NO_VALID_DATA
    assert answer["errors"][0]["type"] == IDENTIFIER_REQUIRED


def test_it_rejects_scripted_indexes_only_once_and_only_when_sent():
    result = rules.validate_body({"attributes": [{"external_id": "u"}, {"x": 1}]})

    result = rules.reject(result, {"attributes": [0, 1, 5], "events": [0]})

    assert result.processed == {"attributes": 0}
    assert [e["index"] for e in result.errors] == [0, 1]
    assert result.errors[0]["type"] == rules.BLOCKED_EXTERNAL_ID


def test_its_code_tables_hold_the_iso_sets():
    assert len(COUNTRY_CODES) == 249
    assert {"US", "DE", "PT", "BR"} <= COUNTRY_CODES
    assert {"en", "pt", "de", "zh"} <= LANGUAGE_CODES
    assert {"USD", "EUR", "BRL", "JPY"} <= CURRENCY_CODES
