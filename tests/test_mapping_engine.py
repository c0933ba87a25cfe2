"""The mapping engine on plain data: no database, no network."""

from mappings.services.mapping import MappingSpec, RowSpec, build_payload, lookup

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
