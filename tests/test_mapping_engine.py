"""The mapping engine on plain data: no database, no network."""

import pytest

from mappings.engine.mapping import (
    InvalidMapping,
    MappingSpec,
    RowSpec,
    build_payload,
    cached_compile,
    compile_mapping,
    lookup,
)

SPEC = MappingSpec(
    identifier_path="user.id",
    rows=(
        RowSpec("user.email", "email", required=True),
        RowSpec("answers[1].value", "favourite_colour"),
        RowSpec("meta.score", "bot_score"),
    ),
)


def test_lookup_follows_nested_keys_and_list_indexes():
    document = {"a": {"b": [{"c": 1}, {"c": 2}]}}

    assert lookup(document, "a.b[1].c") == 2


def test_lookup_reports_missing_paths_without_raising():
    document = {"a": {"b": [1]}, "s": "text"}

    for path in ["x", "a.x", "a.b[3]", "a.b.c", "s.x", "s[0]", "a[0]"]:
        result = build_payload(MappingSpec(path, ()), document)
        assert [p.code for p in result.problems] == ["missing"], path


def test_it_builds_one_attributes_object_identified_by_external_id():
    conversation = {
        "user": {"id": 1234, "email": "a@example.com"},
        "answers": [{"value": "red"}, {"value": "blue"}],
        "meta": {"score": 0},
    }

    result = build_payload(SPEC, conversation)

    assert result.ok
    assert result.payload == {
        "attributes": [
            {
                "external_id": "1234",
                "email": "a@example.com",
                "favourite_colour": "blue",
                "bot_score": 0,
            }
        ]
    }


def test_it_reports_every_missing_required_field_and_the_identifier():
    result = build_payload(SPEC, {"answers": []})

    assert not result.ok
    assert [(p.source_path, p.code) for p in result.problems] == [
        ("user.id", "missing"),
        ("user.email", "missing"),
    ]


def test_it_treats_an_empty_string_as_missing():
    result = build_payload(SPEC, {"user": {"id": "u", "email": ""}})

    assert [p.source_path for p in result.problems] == ["user.email"]


def test_it_rejects_an_identifier_that_is_not_a_string_or_integer():
    for bad in [True, 1.5, {"x": 1}, ["u"]]:
        result = build_payload(SPEC, {"user": {"id": bad, "email": "a@example.com"}})
        assert [p.code for p in result.problems] == ["invalid"]


def test_it_adds_the_partner_only_when_the_spec_has_one():
    conversation = {"user": {"id": "u", "email": "a@example.com"}}

    without = build_payload(SPEC, conversation).payload
    with_partner = build_payload(MappingSpec("user.id", SPEC.rows, "pypestream"), conversation)

    assert "partner" not in without
    assert with_partner.payload["partner"] == "pypestream"


def test_it_survives_any_json_document_shape():
    for document in [None, [], "text", 42, {"user": None}, {"user": []}, {"user": {"id": None}}]:
        result = build_payload(SPEC, document)
        assert not result.ok


def test_an_identifier_longer_than_brazes_987_bytes_is_a_problem_not_a_payload():
    result = build_payload(SPEC, {"user": {"id": "é" * 494, "email": "a@example.com"}})

    assert not result.ok
    assert result.external_id is None
    assert [(p.source_path, p.code) for p in result.problems] == [("user.id", "invalid")]
    assert build_payload(SPEC, {"user": {"id": "é" * 493, "email": "a@x.io"}}).ok


def test_paths_are_jmespath_with_list_indexes_and_expressions():
    conversation = {"session": {"answers": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}}

    assert lookup(conversation, "session.answers[2].value") == "c"
    assert lookup(conversation, "session.answers[-1].value") == "c"
    assert lookup(conversation, "session.answers[*].value") == ["a", "b", "c"]
    assert lookup(conversation, "session.answers[?value=='b'] | [0].value") == "b"
    assert lookup({"user": {"first-name": "Zoë"}}, 'user."first-name"') == "Zoë"


def test_a_template_joins_fields_and_ignores_missing_ones():
    spec = MappingSpec(
        "id",
        (
            RowSpec("{u.first} {u.last}", "full_name", source_type="template"),
            RowSpec("{u.nick}", "nickname", source_type="template"),
            RowSpec("{{literal}} {u.first}", "braced", source_type="template"),
        ),
    )

    sent = build_payload(spec, {"id": "x", "u": {"first": "Ana", "last": None}}).payload

    assert sent["attributes"][0] == {
        "external_id": "x",
        "full_name": "Ana",
        "braced": "{literal} Ana",
    }


def test_a_constant_is_sent_as_written():
    spec = MappingSpec("id", (RowSpec("chatbot", "acquired_via", source_type="constant"),))

    assert build_payload(spec, {"id": "x"}).payload["attributes"][0]["acquired_via"] == "chatbot"


def test_a_mapping_is_compiled_once_per_key():
    calls = []

    def make_spec():
        calls.append(1)
        return SPEC

    first = cached_compile(("test", 1), make_spec)
    second = cached_compile(("test", 1), make_spec)
    third = cached_compile(("test", 2), make_spec)

    assert first is second
    assert third is not first
    assert len(calls) == 2


def test_every_problem_in_a_mapping_is_reported_at_once_with_its_location():
    spec = MappingSpec(
        "user[",
        (RowSpec("a..b", "x"), RowSpec("a", "$y"), RowSpec("a", "z", transforms=("nope",))),
        on_problem="shrug",
    )

    with pytest.raises(InvalidMapping) as raised:
        compile_mapping(spec)

    assert [p.location for p in raised.value.problems] == [
        "on_problem", "identifier.source", "rows[0].source", "rows[1].target",
        "rows[2].transforms[0]",
    ]  # fmt: skip
