"""The per-process cache of ingest lookups (token -> client, slug -> mapping set): what a warm
ingest costs, and how soon configuration changes are seen here and in other processes."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mappings.models import ApiClient, Delivery, FieldMapping, MappingSet
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


def _warm_up(ingest, capture_on_commit) -> None:
    """Ingests with their commit hooks run: field discovery stores the conversation's paths,
    then remembers them once it has read them back."""
    for user in ("u0", "u1"):
        with capture_on_commit(execute=True):
            ingest.post("support-bot", conversation_for(user), mode="async")


def _statements(captured) -> list[str]:
    """The SQL of a request, minus transaction bookkeeping (savepoints inside the test's own
    transaction): what reached the tables."""
    return [
        query["sql"].split(" (")[0]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]


def test_a_warm_async_ingest_reads_nothing_and_writes_one_row_in_one_statement(
    ingest, braze, django_capture_on_commit_callbacks
):
    _warm_up(ingest, django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as captured:
        response = ingest.post("support-bot", conversation_for("u2"), mode="async")

    assert response.status_code == 202
    # Not even a SAVEPOINT: the INSERT is its own transaction (its attempt row is the sender's).
    sent = [query["sql"].split("(")[0].strip() for query in captured.captured_queries]
    assert sent == ['INSERT INTO "mappings_delivery"']


def test_with_the_cache_off_every_request_reads_the_configuration(
    ingest, braze, settings, django_capture_on_commit_callbacks
):
    settings.API_CONFIG_CACHE_SECONDS = 0
    _warm_up(ingest, django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as captured:
        ingest.post("support-bot", conversation_for("u2"), mode="async")

    reads = [sql for sql in _statements(captured) if sql.startswith("SELECT")]
    assert len(reads) == 2  # the client by its token, the mapping set by its slug
    assert reads[0].startswith('SELECT "mappings_apiclient"."id"')
    assert reads[1].startswith('SELECT "mappings_mappingset"."id"')


def test_a_token_revoked_in_this_process_is_refused_at_once(ingest, braze):
    assert ingest.post("support-bot", conversation_for("u1"), mode="async").status_code == 202
    client = ApiClient.objects.get()
    client.is_active = False
    client.save()

    response = ingest.post("support-bot", conversation_for("u1"), mode="async")

    assert response.status_code == 401


def test_a_permission_removed_in_this_process_is_refused_at_once(ingest, braze, mapping_set):
    assert ingest.post("support-bot", conversation_for("u1"), mode="async").status_code == 202

    ApiClient.objects.get().mapping_sets.remove(mapping_set)

    assert ingest.post("support-bot", conversation_for("u1"), mode="async").status_code == 403


def test_a_mapping_edit_in_this_process_maps_the_next_request(ingest, braze, mapping_set):
    ingest.post("support-bot", conversation_for("u1"), mode="async")
    row = FieldMapping.objects.get(mapping_set=mapping_set, target_attribute="home_city")
    row.target_attribute = "city_of_residence"
    row.save()

    sent = ingest.post("support-bot", conversation_for("u2"), mode="async").json()["sent"]

    assert sent["attributes"][0]["city_of_residence"] == "Lisbon"
    assert "home_city" not in sent["attributes"][0]


def test_a_change_made_by_another_process_is_seen_within_the_cache_time(
    ingest, braze, settings, mapping_set
):
    # update() sends no signal: to this process it looks like a change made in another one.
    settings.API_CONFIG_CACHE_SECONDS = 0.5
    assert ingest.post("support-bot", conversation_for("u1"), mode="async").status_code == 202
    ApiClient.objects.update(is_active=False)
    MappingSet.objects.update(is_active=False)

    still_cached = ingest.post("support-bot", conversation_for("u2"), mode="async")
    time.sleep(0.6)
    after = ingest.post("support-bot", conversation_for("u3"), mode="async")

    assert still_cached.status_code == 202
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"


def test_a_version_bump_without_save_is_recorded_on_the_next_delivery(ingest, braze, mapping_set):
    ingest.post("support-bot", conversation_for("u1"), mode="async")
    mapping_set.bump_version()  # what config import does after bulk-creating rows

    body = ingest.post("support-bot", conversation_for("u2"), mode="async").json()

    assert Delivery.objects.get(pk=body["delivery_id"]).mapping_version == mapping_set.version
