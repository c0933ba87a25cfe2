"""Deadlines that hold: a slow or trickling Braze never keeps a request, or a bot, past its clock.

The Braze calls here are real HTTP to the fake Braze, scripted to answer late (a delay before its
status line) or to trickle its answer a few bytes at a time, which restarts a per-read timeout
with every byte. The last tests put the whole service behind a live HTTP server and time the
answer as a bot with a 5 s timeout would.
"""

import socket
import time

import pytest
import requests
from django.utils import timezone

from mappings.delivery import braze as braze_client
from mappings.delivery import worker
from mappings.fake_braze import Fault
from mappings.models import Delivery, Environment, MappingSet
from tests.conftest import BRAZE_KEY, conversation_for

BODY = {"attributes": [{"external_id": "u-1", "first_name": "Zoë"}]}
# The fake's success answer is about 170 bytes: at 2 bytes every 0.2 s it takes about 17 s.
TRICKLE = {"trickle_interval_seconds": 0.2, "trickle_chunk_bytes": 2}


@pytest.mark.parametrize(
    "fault",
    [pytest.param(TRICKLE, id="trickled"), pytest.param({"delay_seconds": 10}, id="slow")],
)
def test_a_braze_request_is_cut_at_its_deadline_and_flagged_ambiguous(braze, fault):
    braze.add_fault(Fault(times=1, **fault))
    started = time.monotonic()

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.track_users(braze.url, BRAZE_KEY, BODY, deadline=started + 0.8)

    elapsed = time.monotonic() - started
    # Cut at 0.8 s, where the answer would take 10 s or more; the upper bound leaves room for a
    # loaded machine's thread scheduling.
    assert 0.75 <= elapsed < 2.5, elapsed
    error = raised.value
    assert error.ambiguous and not error.permanent  # Braze may have applied it: retried later
    assert 750 <= error.duration_ms < 2500
    assert "deadline" in str(error)
    assert len(braze.received) == 1


def test_an_answer_cut_after_its_status_line_is_not_taken_for_braze_s_answer(braze):
    """Cut mid-headers, the stream's end can look like the end of an empty answer."""
    braze.add_fault(Fault(times=1, trickle_interval_seconds=0.2, trickle_chunk_bytes=20))
    started = time.monotonic()

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.track_users(braze.url, BRAZE_KEY, BODY, deadline=started + 0.5)

    assert raised.value.ambiguous and "deadline" in str(raised.value)


def test_the_request_deadline_setting_bounds_a_call_without_a_deadline(braze, settings):
    settings.BRAZE_REQUEST_DEADLINE_SECONDS = 0.5
    braze.add_fault(Fault(times=1, **TRICKLE))
    started = time.monotonic()

    with pytest.raises(braze_client.BrazeError):
        braze_client.track_users(braze.url, BRAZE_KEY, BODY)

    assert time.monotonic() - started < 1.0


def test_a_request_that_ends_in_time_is_not_cut_later(braze):
    """The deadline's watch lets a finished request go: its connection stays usable."""
    answer = braze_client.track_users(braze.url, BRAZE_KEY, BODY, deadline=time.monotonic() + 0.3)
    time.sleep(0.4)  # past that deadline: a stray cut would break the kept-alive connection

    again = braze_client.track_users(braze.url, BRAZE_KEY, BODY)

    assert answer.status == again.status == 201
    assert len(braze.received) == 2


def test_a_sync_ingest_against_a_trickling_braze_answers_queued_within_its_budget(
    ingest, braze, settings
):
    MappingSet.objects.filter(slug="support-bot").update(sync_budget_seconds=1.0)
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 30.0  # so a re-send before the backoff would show
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 60.0
    braze.add_fault(Fault(times=1, **TRICKLE))
    started = time.monotonic()

    response = ingest.post("support-bot", conversation_for("u-1"))

    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 1.3  # the request waited out its budget, and no more
    assert response.status_code == 202 and response.json()["status"] == "queued"
    delivery = Delivery.objects.get()
    [attempt] = delivery.attempts.all()
    assert attempt.ambiguous and attempt.outcome == "failed"
    # What was left of the budget after arrival, mapping and the outbox write (less when the
    # machine is loaded, never more).
    assert 0 < attempt.duration_ms <= 1100
    assert delivery.status == "retrying" and delivery.next_attempt_at > timezone.now()
    time.sleep(0.3)  # past the environment's short hold: a probe may go, the record may not
    worker.drain_all()  # the delivery's backoff has not passed: it is not sent again
    copies = [r for r in braze.received if r.body.get("attributes")]
    assert len(copies) == 1  # any other request is an empty probe (recovery.py)


def test_the_budget_counts_from_arrival_not_from_the_braze_call(ingest, braze, settings):
    """A budget already spent when the record is stored leaves no time for Braze: the request
    answers queued at once and a worker sends the record."""
    MappingSet.objects.filter(slug="support-bot").update(sync_budget_seconds=0.1)
    from mappings.ingest import conversations

    started = time.monotonic()
    result = conversations.ingest(
        MappingSet.objects.get(),
        None,
        conversation_for("u-1"),
        mode="sync",
        arrived_at=started - 1.0,  # arrived a second ago: its 0.1 s are long gone
    )

    assert time.monotonic() - started < 0.5
    assert result.delivery.status == "pending" and braze.received == []
    worker.drain_all()
    assert len(braze.received) == 1


def _scripted(fault: dict):
    return lambda braze, environment: braze.add_fault(Fault(**fault))


def _refusing_connections(braze, environment) -> None:
    """Point the environment at a loopback port nobody listens on: Braze is down, refusing."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    Environment.objects.filter(pk=environment.pk).update(rest_endpoint=f"http://127.0.0.1:{port}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "braze_misbehaves",
    [
        pytest.param(_scripted(TRICKLE), id="trickling"),
        pytest.param(_scripted({"delay_seconds": 10}), id="slow"),
        pytest.param(_scripted({"status": 503, "for_seconds": 30}), id="down-503"),
        pytest.param(_refusing_connections, id="down-refusing-connections"),
    ],
)
def test_a_bot_with_a_5_s_timeout_gets_its_answer_within_4_5_s(
    live_server, api_token, braze, environment, settings, braze_misbehaves
):
    settings.DELIVERY_SYNC_BUDGET_SECONDS = 4.0  # the shipped default
    braze_misbehaves(braze, environment)
    started = time.monotonic()

    response = requests.post(
        f"{live_server.url}/api/v1/ingest/support-bot/",
        json=conversation_for("u-1"),
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=5.0,
    )

    assert time.monotonic() - started < 4.5
    assert response.status_code == 202 and response.json()["status"] == "queued"
    [attempt] = Delivery.objects.get().attempts.all()  # Braze was tried, and failed in time
    assert attempt.outcome == "failed" and attempt.duration_ms < 4000
