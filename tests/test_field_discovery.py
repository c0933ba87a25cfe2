"""Field discovery records paths and types of received conversations, never their values."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from mappings.ingest import discovery
from mappings.models import SeenPath

pytestmark = pytest.mark.django_db


def test_paths_use_the_jmespath_form_rows_use():
    found = discovery.paths_of(
        {"session": {"answers": [{"value": "a"}, {"value": 2}]}, "user": {"first-name": None}}
    )

    assert found["session.answers[0].value"] == {"string"}
    assert found["session.answers[1].value"] == {"number"}
    assert found["session.answers"] == {"array"}
    assert found['user."first-name"'] == {"null"}


def test_a_huge_document_records_a_bounded_number_of_paths():
    found = discovery.paths_of({f"k{i}": {"x": [1] * 50} for i in range(1000)})

    assert len(found) <= discovery.MAX_PATHS


def test_ingest_records_paths_and_types_per_mapping_set(ingest, braze, conversation, mapping_set):
    ingest.post("support-bot", conversation)
    conversation["answers"]["plan"] = 3
    ingest.post("support-bot", conversation)

    seen = {s.path: s.types for s in SeenPath.objects.filter(mapping_set=mapping_set)}

    assert seen["answers.plan"] == ["number", "string"]
    assert seen["user.profile.email"] == ["string"]
    assert "zoe@example.com" not in str(list(SeenPath.objects.values()))


def test_unmapped_lists_only_leaves_no_row_reads(ingest, braze, conversation, mapping_set):
    conversation["answers"]["mood"] = "happy"
    ingest.post("support-bot", conversation)

    assert [s.path for s in discovery.unmapped(mapping_set)] == ["answers.mood"]


def test_a_conversation_shape_already_stored_costs_no_discovery_query(
    ingest, braze, conversation, mapping_set, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        discovery.record(mapping_set, conversation)  # inserts the rows
        discovery.record(mapping_set, conversation)  # reads them back: now known here

    with CaptureQueriesContext(connection) as queries:
        discovery.record(mapping_set, conversation)

    assert not [q for q in queries.captured_queries if "seenpath" in q["sql"]]


def test_a_new_path_or_type_is_still_recorded_after_the_shape_is_known(
    ingest, braze, conversation, mapping_set, django_capture_on_commit_callbacks
):
    for _ in range(3):  # inserted, read back and remembered, then learnt as a shape
        with django_capture_on_commit_callbacks(execute=True):  # each request's own commit
            ingest.post("support-bot", conversation)
    conversation["answers"]["plan"] = 3
    conversation["answers"]["budget"] = "high"
    with django_capture_on_commit_callbacks(execute=True):
        ingest.post("support-bot", conversation)

    seen = {s.path: s.types for s in SeenPath.objects.filter(mapping_set=mapping_set)}

    assert seen["answers.plan"] == ["number", "string"]
    assert seen["answers.budget"] == ["string"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_recording_is_not_taken_as_stored(conversation, mapping_set):
    with pytest.raises(RuntimeError), transaction.atomic():
        discovery.record(mapping_set, conversation)
        discovery.record(mapping_set, conversation)
        raise RuntimeError("the request failed")

    discovery.record(mapping_set, conversation)

    assert SeenPath.objects.filter(mapping_set=mapping_set, path="user.profile.email").exists()


@pytest.mark.parametrize(
    ("variant", "new_path", "types"),
    [
        ({"a": {"b": 1}, "list": [{"x": 1}, {"x": 2}, {"x": 3}]}, "list[2].x", ["number"]),
        ({"a": {"b": 1, "c": True}, "list": [{"x": 1}, {"x": 2}]}, "a.c", ["boolean"]),
        ({"a": {"b": 1}, "a.b": 1, "list": [{"x": 1}, {"x": 2}]}, '"a.b"', ["number"]),
        ({"a": {"b": 1}, "list": [{"x": 1}, {"x": None}]}, "list[1].x", ["null", "number"]),
        ({"a": {"b": {"deep": 1}}, "list": []}, "a.b.deep", ["number"]),
    ],
)
def test_a_conversation_that_departs_from_a_known_shape_records_what_is_new(
    mapping_set, django_capture_on_commit_callbacks, variant, new_path, types
):
    """Once a shape is known, a conversation that fits it is skipped without building paths;
    one with a new key (also one that reads like a path), list position or type is not."""
    base = {"a": {"b": 1}, "list": [{"x": 1}, {"x": 2}]}
    for _ in range(3):  # inserted, read back and remembered, then learnt as a shape
        with django_capture_on_commit_callbacks(execute=True):  # each as its own request
            discovery.record(mapping_set, base)
    assert discovery._fits_known_shape(mapping_set, base)
    discovery.record(mapping_set, variant)

    seen = {s.path: s.types for s in SeenPath.objects.filter(mapping_set=mapping_set)}
    assert seen[new_path] == types
