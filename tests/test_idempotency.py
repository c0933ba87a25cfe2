"""Idempotency-Key on the ingest API: one delivery and one Braze call per key (S5)."""

import json
import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mappings.models import Delivery
from tests.conftest import conversation_for


@pytest.mark.django_db
def test_a_repeated_key_returns_the_original_answer_without_calling_braze_again(ingest, braze):
    answers = [ingest.post("support-bot", conversation_for("u1"), key="k-1") for _ in range(5)]

    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert answers[1]["Idempotent-Replayed"] == "true"
    assert Delivery.objects.count() == 1
    assert len(braze.received) == 1


@pytest.mark.django_db
def test_only_a_keyed_request_stores_the_fingerprint_a_repeat_is_compared_with(ingest, braze):
    keyed = ingest.post("support-bot", conversation_for("u1"), key="k-1", mode="async")
    unkeyed = ingest.post("support-bot", conversation_for("u1"), mode="async")

    fingerprint = Delivery.objects.get(pk=keyed.json()["delivery_id"]).request_fingerprint
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0  # a SHA-256 hex digest
    assert Delivery.objects.get(pk=unkeyed.json()["delivery_id"]).request_fingerprint == ""


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_rejected_with_409(ingest, braze):
    ingest.post("support-bot", conversation_for("u1"), key="k-1")

    response = ingest.post("support-bot", conversation_for("u2"), key="k-1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert len(braze.received) == 1


@pytest.mark.django_db
def test_a_request_that_failed_validation_stores_nothing_for_its_key(ingest, braze):
    invalid = conversation_for("u1")
    del invalid["user"]["profile"]
    assert ingest.post("support-bot", invalid, key="k-1").status_code == 422

    response = ingest.post("support-bot", conversation_for("u1"), key="k-1")

    assert response.status_code == 200
    assert len(braze.received) == 1


@pytest.mark.django_db
def test_a_key_is_free_again_after_its_window(ingest, braze):
    ingest.post("support-bot", conversation_for("u1"), key="k-1")
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = ingest.post("support-bot", conversation_for("u2"), key="k-1")

    assert response.status_code == 200
    assert len(braze.received) == 2


@pytest.mark.django_db
def test_an_async_repeat_gets_the_original_202(ingest, braze):
    first = ingest.post("support-bot", conversation_for("u1"), key="k-2", mode="async")
    second = ingest.post("support-bot", conversation_for("u1"), key="k-2", mode="async")

    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert Delivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_braze_call(live_server, api_token, braze):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite in-memory test database is one shared connection: no concurrency")
    barrier = threading.Barrier(4)
    answers = []

    def post() -> None:
        barrier.wait()
        answers.append(
            requests.post(
                f"{live_server.url}/api/v1/ingest/support-bot/",
                json=conversation_for("u1"),
                headers={"Authorization": f"Bearer {api_token}", "Idempotency-Key": "same"},
                timeout=20,
            )
        )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["delivery_id"] for a in answers}) == 1
    assert len(braze.received) == 1
    assert Delivery.objects.count() == 1


def _statements_of(ingest, *args, **kwargs) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = ingest.post(*args, **kwargs)
    assert response.status_code < 300, response.content
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db
def test_the_first_use_of_a_key_costs_no_look_up_and_an_async_answer_no_second_write(ingest, braze):
    statements = _statements_of(ingest, "support-bot", conversation_for("u1"), key="k-3",
                                mode="async")  # fmt: skip

    on_deliveries = [sql for sql in statements if '"mappings_delivery"' in sql]
    # The unique (client, key) constraint tells a repeat; the answer goes in with the row.
    assert [sql.split()[0] for sql in on_deliveries] == ["INSERT"]
    stored = Delivery.objects.get()
    assert stored.answer_status == 202
    assert json.loads(stored.answer_body)["status"] == "accepted"


@pytest.mark.django_db
def test_a_repeat_after_an_async_answer_stored_with_its_row_gets_it_back(ingest, braze):
    first = ingest.post("support-bot", conversation_for("u1"), key="k-4", mode="async")
    repeat = ingest.post("support-bot", conversation_for("u1"), key="k-4", mode="async")
    conflict = ingest.post("support-bot", conversation_for("u2"), key="k-4", mode="async")

    assert repeat.status_code == 202 and repeat["Idempotent-Replayed"] == "true"
    assert repeat.content == first.content
    assert conflict.status_code == 409
    assert Delivery.objects.count() == 1


@pytest.mark.django_db
def test_a_repeat_whose_body_no_longer_maps_still_gets_the_first_answer_or_its_conflict(
    ingest, braze
):
    ingest.post("support-bot", conversation_for("u1"), key="k-5")
    unmappable = conversation_for("u1")
    del unmappable["user"]["profile"]

    response = ingest.post("support-bot", unmappable, key="k-5")

    assert response.status_code == 409  # not a second delivery row rejected under that key
    assert Delivery.objects.count() == 1
