"""Every Braze target type, the user identifiers, and the per-mapping-set problem policy."""

from datetime import UTC, datetime

import pytest

from mappings.engine.mapping import build_payload, validate_spec
from mappings.engine.spec import MappingSpec, RowSpec

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


def run(rows, conversation, **spec):
    full = {"id": "u-1", **conversation}
    return build_payload(MappingSpec("id", tuple(rows), **spec), full, now=NOW)


def attributes(rows, conversation, **spec):
    result = run(rows, conversation, **spec)
    assert result.ok, result.problems
    return result.payload["attributes"][0]


@pytest.mark.parametrize(
    ("target", "good", "bad"),
    [
        ("first_name", "Zoë", "x" * 256),
        ("email", "a@example.com", "not-an-email"),
        ("dob", "1990-04-12", "12/04/1990"),
        ("country", "BR", "Brazil"),
        ("language", "pt", "pt-BR"),
        ("gender", "O", "female"),
        ("time_zone", "America/Sao_Paulo", "GMT+3 please"),
        ("email_subscribe", "opted_in", "yes"),
        ("push_subscribe", "unsubscribed", True),
        ("email_open_tracking_disabled", False, "false"),
        ("current_location", {"latitude": 1.5, "longitude": -3}, {"latitude": 91, "longitude": 0}),
        ("date_of_first_session", "2026-11-20T10:15:00Z", "yesterday"),
        ("subscription_groups", [{"subscription_group_id": "g", "subscription_state": "subscribed"}],  # noqa: E501
         [{"subscription_group_id": "g", "subscription_state": "maybe"}]),
    ],
)  # fmt: skip
def test_standard_attributes_accept_brazes_format_and_refuse_others(target, good, bad):
    rows = [RowSpec("v", target)]

    assert attributes(rows, {"v": good})[target] == good
    refused = run(rows, {"v": bad})
    assert not refused.ok
    assert target not in refused.payload["attributes"][0]
    assert refused.problems[0].code == "invalid"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("text", "text"),
        (3, 3),
        (2.5, 2.5),
        (True, True),
        ("2026-11-20T00:00:00Z", "2026-11-20T00:00:00Z"),
        (["a", "b", "a", 1], ["a", "b", 1]),
        ({"city": "Porto", "zip": None, "tags": ["x"]}, {"city": "Porto", "tags": ["x"]}),
        ([{"sku": "a"}, {"sku": "b"}], [{"sku": "a"}, {"sku": "b"}]),
    ],
)
def test_custom_attributes_take_every_braze_value_type_without_nulls(value, sent):
    assert attributes([RowSpec("v", "custom")], {"v": value})["custom"] == sent


@pytest.mark.parametrize(
    "bad",
    [
        "x" * 256,
        ["ok", ["nested list"]],
        {"has space": 1},
        {"a.b": 1},
        {"$x": 1},
        {"blob": "y" * 300},
        list(range(501)),
    ],
)
def test_custom_attribute_values_past_brazes_limits_are_problems(bad):
    assert run([RowSpec("v", "custom")], {"v": bad}).problems[0].code == "invalid"


def test_a_nested_object_over_100_kb_is_refused():
    big = {f"k{i}": "v" * 200 for i in range(600)}

    assert "100 KB" in run([RowSpec("v", "custom")], {"v": big}).problems[0].reason


def test_the_array_length_limit_follows_the_workspace_setting():
    rows = [RowSpec("v", "custom")]

    assert run(rows, {"v": list(range(30))}, max_array_length=25).problems
    assert run(rows, {"v": list(range(25))}, max_array_length=25).ok


@pytest.mark.parametrize(
    ("operation", "value", "transforms", "sent"),
    [
        ("increment", "2", ("int",), {"inc": 2}),
        ("add", "red", (), {"add": ["red"]}),
        ("add", "red, blue", ("split",), {"add": ["red", "blue"]}),
        ("remove", ["red"], (), {"remove": ["red"]}),
    ],
)
def test_custom_attribute_operations(operation, value, transforms, sent):
    rows = [RowSpec("v", "custom", operation=operation, transforms=transforms)]

    assert attributes(rows, {"v": value})["custom"] == sent


def test_increment_refuses_a_fraction():
    assert not run([RowSpec("v", "visits", operation="increment")], {"v": 1.5}).ok


def test_merge_sends_a_nested_object_with_merge_objects():
    sent = attributes([RowSpec("v", "address", operation="merge")], {"v": {"city": "Porto"}})

    assert sent["address"] == {"city": "Porto"}
    assert sent["_merge_objects"] is True


def test_a_jmespath_multiselect_builds_a_nested_value():
    rows = [RowSpec("{latitude: geo.lat, longitude: geo.lng}", "current_location")]

    sent = attributes(rows, {"geo": {"lat": 38.7, "lng": -9.1}})

    assert sent["current_location"] == {"latitude": 38.7, "longitude": -9.1}


@pytest.mark.parametrize(
    ("target", "operation", "message"),
    [
        ("$secret", "set", "$"),
        ("x" * 256, "set", "255"),
        ("external_id", "set", "identifier"),
        ("dob", "increment", "standard attribute"),
        ("events[0].colour", "set", "no field 'colour'"),
        ("events[0].properties.time", "set", "time"),
        ("events[0].properties", "set", "properties.<key>"),
        ("purchases[0].properties.$x", "set", "$"),
        ("events[x].name", "set", "events[0]"),
        ("plan", "multiply", "unknown operation"),
    ],
)
def test_targets_braze_would_refuse_are_refused_when_the_mapping_is_checked(
    target, operation, message
):
    [problem] = validate_spec(MappingSpec("id", (RowSpec("v", target, operation=operation),)))

    assert problem.location == "rows[0].target"
    assert message in problem.message


def test_an_event_is_sent_with_mapped_time_and_properties():
    rows = [
        RowSpec("quiz_completed", "events[0].name", source_type="constant"),
        RowSpec("at", "events[0].time", transforms=("datetime",)),
        RowSpec("score", "events[0].properties.score", transforms=("int",)),
        RowSpec("tags", "events[0].properties.tags"),
    ]

    result = run(rows, {"at": "20/11/2026 09:00", "score": "7", "tags": ["a"]})

    assert result.payload["events"] == [
        {
            "external_id": "u-1",
            "name": "quiz_completed",
            "time": "2026-11-20T09:00:00Z",
            "properties": {"score": 7, "tags": ["a"]},
        }
    ]


def test_an_event_without_a_time_happens_now_and_one_without_a_name_is_not_sent():
    rows = [
        RowSpec("event", "events[0].name"),
        RowSpec("plan", "events[0].properties.plan"),
        RowSpec("other", "events[1].name"),
    ]

    result = run(rows, {"event": "signed_up", "plan": "gold"})

    [event] = result.payload["events"]
    assert event["time"] == "2026-11-20T10:15:00Z"
    assert event["name"] == "signed_up"


def test_a_purchase_is_sent_with_its_fields():
    rows = [
        RowSpec("order.sku", "purchases[0].product_id"),
        RowSpec("order.currency", "purchases[0].currency", transforms=("upper",)),
        RowSpec("order.total", "purchases[0].price", transforms=("float",)),
        RowSpec("order.qty", "purchases[0].quantity", transforms=("int",)),
        RowSpec("order.at", "purchases[0].time", transforms=("datetime",)),
        RowSpec("order.coupon", "purchases[0].properties.coupon"),
    ]
    order = {"sku": "plan-gold", "currency": "eur", "total": "19,90", "qty": "2",
             "at": "2026-11-19T08:00:00Z", "coupon": "WELCOME"}  # fmt: skip

    [purchase] = run(rows, {"order": order}).payload["purchases"]

    assert purchase == {
        "external_id": "u-1", "product_id": "plan-gold", "currency": "EUR", "price": 19.9,
        "quantity": 2, "time": "2026-11-19T08:00:00Z", "properties": {"coupon": "WELCOME"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "euros"), ("quantity", 101), ("quantity", 0), ("price", "free")],
)
def test_purchase_fields_braze_would_refuse_are_problems(field, value):
    order = {"sku": "p", "currency": "EUR", "price": 5, field: value}
    rows = [
        RowSpec("o.sku", "purchases[0].product_id"),
        RowSpec("o.currency", "purchases[0].currency"),
        RowSpec("o.price", "purchases[0].price"),
        RowSpec(f"o.{field}", f"purchases[0].{field}") if field == "quantity" else None,
    ]

    result = run([row for row in rows if row], {"o": order})

    assert not result.ok
    assert all(field not in sent for sent in result.payload.get("purchases", []))


def test_a_purchase_without_a_price_is_incomplete():
    rows = [RowSpec("sku", "purchases[0].product_id"), RowSpec("cur", "purchases[0].currency")]

    result = run(rows, {"sku": "p", "cur": "USD"})

    assert [p.code for p in result.problems] == ["incomplete"]
    assert "purchases" not in result.payload


def test_the_identifier_can_be_a_user_alias():
    spec = {"identifier_type": "user_alias", "alias_label": "bot_session"}

    result = run([RowSpec("e", "events[0].name")], {"e": "hello"}, **spec)

    alias = {"alias_name": "u-1", "alias_label": "bot_session"}
    assert result.payload["attributes"] == [{"user_alias": alias, "_update_existing_only": False}]
    assert result.payload["events"][0]["user_alias"] == alias


def test_the_identifier_can_be_an_email_normalised_by_its_transforms():
    spec = MappingSpec(
        "contact", (), identifier_type="email", identifier_transforms=("trim", "lower")
    )

    result = build_payload(spec, {"contact": " Zoe@Example.com "})

    assert result.payload["attributes"] == [{"email": "zoe@example.com"}]


def test_the_identifier_can_be_a_phone_in_e164():
    phone = ({"name": "phone", "region": "US"},)
    spec = MappingSpec("tel", (), identifier_type="phone", identifier_transforms=phone)

    assert build_payload(spec, {"tel": "415 555 2671"}).payload["attributes"] == [
        {"phone": "+14155552671"}
    ]


def test_a_user_alias_needs_a_label_and_a_row_cannot_set_the_identifier():
    spec = MappingSpec("id", (RowSpec("e", "email"),), identifier_type="email")
    alias = MappingSpec("id", (), identifier_type="user_alias")

    assert [p.location for p in validate_spec(spec)] == ["rows[0].target"]
    assert [p.location for p in validate_spec(alias)] == ["identifier.alias_label"]


def test_an_external_id_over_987_bytes_is_refused():
    assert not build_payload(MappingSpec("id", ()), {"id": "é" * 500}).ok


# -- the problem policy --------------------------------------------------------------------------

ROWS = [
    RowSpec("email", "email", required=True),
    RowSpec("dob", "dob", transforms=("dob",)),
    RowSpec("city", "home_city"),
]


def test_the_reject_policy_rejects_the_record_on_any_problem():
    result = run(ROWS, {"email": "a@example.com", "dob": "soon", "city": "Porto"})

    assert not result.ok
    [problem] = result.problems
    assert problem.as_dict() == {
        "row": "row 2", "source_path": "dob", "target": "dob", "code": "invalid",
        "reason": "not a date in a known format (field order DMY)", "value": "soon",
    }  # fmt: skip


def test_the_drop_field_policy_sends_the_rest_and_keeps_the_problem():
    result = run(ROWS, {"email": "a@example.com", "dob": "soon", "city": "Porto"},
                 on_problem="drop_field")  # fmt: skip

    assert result.ok
    assert result.payload["attributes"] == [
        {"external_id": "u-1", "email": "a@example.com", "home_city": "Porto"}
    ]
    assert [p.target for p in result.problems] == ["dob"]


def test_a_required_field_rejects_under_either_policy():
    result = run(ROWS, {"email": "not-an-email"}, on_problem="drop_field")

    assert not result.ok


def test_a_problem_never_shows_a_sensitive_value():
    rows = [RowSpec("ssn", "tax_id", transforms=("int",), sensitive=True)]

    [problem] = run(rows, {"ssn": "123-45-6789"}).problems

    assert problem.value == "••••"
