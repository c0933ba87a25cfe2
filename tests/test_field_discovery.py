"""Field discovery records paths and types of received conversations, never their values."""

import pytest

from mappings.models import SeenPath
from mappings.services import discovery

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
