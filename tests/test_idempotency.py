"""Idempotency-Key on the ingest API: one delivery and one Braze call per key (S5)."""

import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
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
