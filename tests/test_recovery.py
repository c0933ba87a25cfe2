"""Recovery within seconds: a short, capped hold after transient failures, then an empty probe.

Against the fake Braze over HTTP; the worker runs in the test's thread (``worker.run_once`` is
the embedded loop's body: a sweep, then a drain of each environment it lists). Long outages
are fast-forwarded through the gate's failure count and hold, never waited out.
"""

import collections
import logging
import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from mappings.delivery import dispatch, outbox, recovery, worker
from mappings.fake_braze import FakeBraze, Fault
from mappings.fake_braze.rules import NO_VALID_DATA
from mappings.models import Delivery, DeliveryAttempt, DeliveryGate, Environment
from tests.conftest import BRAZE_KEY, conversation_for

pytestmark = pytest.mark.django_db

OUTAGE = 10**6  # a 503 fault that lasts until the test clears it


def _gate(environment) -> DeliveryGate:
    return DeliveryGate.objects.get(environment=environment)


def _end_the_hold() -> None:
    """Fast-forward to the end of the environment's hold."""
    DeliveryGate.objects.update(blocked_until=None)


def _probes(braze) -> list:
    return [request for request in braze.received if request.body == {}]


def _attempt_rows() -> list[tuple]:
    return list(DeliveryAttempt.objects.order_by("pk").values_list("pk", "outcome", "sent_at"))


def _open_deliveries() -> list[tuple]:
    rows = Delivery.objects.order_by("pk").values_list(
        "pk", "status", "attempt_count", "next_attempt_at"
    )
    return list(rows)


@pytest.fixture
def production_waits(settings):
    """The shipped probe interval and a delivery backoff that reaches an hour, as in production."""
    settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS = 2.0
    settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS = 20.0
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 3600.0
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 3600.0


def _time_passes(seconds: float) -> None:
    """Fast-forward the clock: every stored instant moves ``seconds`` into the past."""
    ago = timedelta(seconds=seconds)
    Delivery.objects.update(
        created_at=F("created_at") - ago, next_attempt_at=F("next_attempt_at") - ago
    )
    DeliveryGate.objects.update(blocked_until=F("blocked_until") - ago)
    DeliveryAttempt.objects.update(sent_at=F("sent_at") - ago)


@pytest.fixture
def documented_defaults(settings):
    """The recovery and retry settings at their documented defaults (README, .env.example)."""
    settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS = 2.0
    settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS = 20.0
    settings.DELIVERY_SWEEP_INTERVAL_SECONDS = 10.0
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 10.0
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 3600.0
    settings.DELIVERY_RETRY_WINDOW_SECONDS = 27 * 3600.0
    settings.DELIVERY_MAX_ATTEMPTS = 50


@pytest.fixture(params=["503", "refused"])
def outage(request, environment, braze):
    """(the fake Braze the environment sends to, take it down, bring it back): answering 503,
    or stopped so that connections are refused, then started again on the same port."""
    if request.param == "503":
        yield braze, lambda: braze.add_fault(Fault(status=503, times=OUTAGE)), braze.clear_faults
        return
    with FakeBraze(api_keys={BRAZE_KEY}) as own:
        Environment.objects.filter(pk=environment.pk).update(rest_endpoint=own.url)
        yield own, own.stop, own.start


def test_after_ten_minutes_down_braze_gets_the_first_delivery_within_30_s_and_retries_go_on_24_h(
    ingest, environment, outage, documented_defaults, settings
):
    target, goes_down, comes_back = outage
    ingest.send_async("support-bot", "u1", "u2", "u3")
    goes_down()
    sweep_every, down_for, holds = settings.DELIVERY_SWEEP_INTERVAL_SECONDS, 0.0, []
    while True:  # the embedded loop, a round every sweep interval, its clock fast-forwarded
        before = _gate(environment).blocked_until if down_for else None
        worker.run_once()
        until = _gate(environment).blocked_until
        holds.append((until - timezone.now()).total_seconds())
        if down_for >= 600 and until != before:
            break  # ten minutes down, and a probe has just failed: its whole hold is ahead
        _time_passes(sweep_every)
        down_for += sweep_every

    assert max(holds) <= settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS  # never an hour
    assert _gate(environment).consecutive_failures >= 600 / 20
    now, window = timezone.now(), timedelta(seconds=settings.DELIVERY_RETRY_WINDOW_SECONDS)
    for delivery in Delivery.objects.all():
        assert delivery.status == "retrying" and delivery.attempt_count == 1  # probes spend none
        assert delivery.created_at + window - now >= timedelta(hours=24)
    comes_back()
    waited = 0.0
    while not Delivery.objects.filter(status="delivered").exists():
        assert waited < 60, "deliveries did not resume"
        _time_passes(sweep_every)
        waited += sweep_every
        worker.run_once()

    promised = (
        settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS + settings.DELIVERY_SWEEP_INTERVAL_SECONDS
    )
    assert waited <= promised <= 30
    assert not Delivery.objects.exclude(status="delivered").exists()  # all in the same request
    copies = collections.Counter(o["external_id"] for o in target.accepted_objects("attributes"))
    assert copies == {"u1": 1, "u2": 1, "u3": 1}
    for delivery in Delivery.objects.all():
        outcomes = list(delivery.attempts.order_by("attempt_number").values_list("outcome"))
        assert outcomes == [("failed",), ("success",)]


def test_the_hold_after_a_long_run_of_503s_never_exceeds_the_probe_interval_cap(
    ingest, braze, environment, production_waits
):
    ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=OUTAGE))
    holds = []

    for _ in range(60):  # 60 holds of 10 to 20 s: 10 to 20 minutes of 503s
        started = timezone.now()
        worker.run_once()
        finished, until = timezone.now(), _gate(environment).blocked_until
        # The hold is set during the round: at most the cap from its end, at least half of it
        # (the jitter's share) from its start.
        holds.append(((until - finished).total_seconds(), (until - started).total_seconds()))
        _end_the_hold()

    assert max(longest for longest, _ in holds) <= 20.0
    assert min(shortest for _, shortest in holds[4:]) >= 10.0  # at the cap
    assert _gate(environment).consecutive_failures == 60
    assert len(braze.received) == 60 and len(_probes(braze)) == 59
    delivery = Delivery.objects.get()
    assert delivery.status == "retrying" and delivery.attempt_count == 1  # probes spend none


def test_a_failed_send_after_many_failures_holds_no_longer_than_the_cap(
    ingest, braze, environment, production_waits
):
    ingest.send_async("support-bot", "u1")
    DeliveryGate.objects.create(environment=environment, consecutive_failures=500)
    braze.add_fault(Fault(status=503, times=1))
    token, held = outbox.claim(environment.pk, 10)
    started = timezone.now()

    dispatch.send_claimed(token, held)

    finished, until = timezone.now(), _gate(environment).blocked_until
    assert (until - started).total_seconds() >= 10.0
    assert (until - finished).total_seconds() <= 20.0
    delivery = Delivery.objects.get()
    assert delivery.next_attempt_at - started >= timedelta(minutes=30)  # its own backoff


def test_a_429_keeps_brazes_own_wait_and_is_followed_by_no_probe(
    ingest, braze, environment, production_waits
):
    ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=429, reset_in=45.0, header_style="delta"))
    started = timezone.now()

    worker.run_once()

    gate = _gate(environment)
    assert (gate.blocked_until - started).total_seconds() >= 44.0  # Braze's wait, over the cap
    assert gate.consecutive_failures == 0
    _end_the_hold()
    Delivery.objects.update(next_attempt_at=timezone.now())
    worker.run_once()
    assert _probes(braze) == []
    assert Delivery.objects.get().status == "delivered"


def test_braze_recovering_gets_the_first_delivery_within_the_probe_interval_cap(
    ingest, braze, environment, settings
):
    settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS = 0.125
    settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS = 1.0
    settings.DELIVERY_SWEEP_INTERVAL_SECONDS = 0.25
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 3600.0
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 3600.0
    sweep_every = settings.DELIVERY_SWEEP_INTERVAL_SECONDS
    ingest.send_async("support-bot", "u1", "u2", "u3")
    braze.add_fault(Fault(status=503, times=OUTAGE))
    worker.run_once()
    DeliveryGate.objects.update(consecutive_failures=100)  # as after ten minutes of 503s
    in_an_hour = timezone.now() + timedelta(minutes=30)
    assert all(d.next_attempt_at > in_an_hour for d in Delivery.objects.all())
    outage_ends = time.monotonic() + 2.5
    while time.monotonic() < outage_ends:  # the embedded worker's loop, probing meanwhile
        worker.run_once()
        time.sleep(sweep_every)
    assert len(_probes(braze)) >= 2

    recovered_at = time.time()
    braze.clear_faults()
    give_up_at = time.monotonic() + 10
    while Delivery.objects.exclude(status="delivered").exists():
        assert time.monotonic() < give_up_at, "the deliveries did not resume"
        worker.run_once()
        time.sleep(sweep_every)

    first = next(index for index, r in enumerate(braze.received) if r.status == 201)
    probe = braze.received[first - 1]
    assert probe.body == {} and probe.status == 400 and probe.received_at >= recovered_at
    waited = braze.received[first].received_at - recovered_at
    # The last hold before recovery ends within the cap; the next sweep comes within its
    # interval; the rest is one round's own work (well under the 0.25 s allowed).
    cap = settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS
    assert waited <= cap + sweep_every + 0.25
    assert sum(r.status == 201 for r in braze.received) == 1  # all three in one request
    for delivery in Delivery.objects.all():
        outcomes = list(delivery.attempts.order_by("attempt_number").values_list("outcome"))
        assert outcomes == [("failed",), ("success",)]


def test_a_probe_against_a_failing_braze_holds_again_and_spends_no_attempt(
    ingest, braze, environment, production_waits
):
    ingest.send_async("support-bot", "u1", "u2")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    attempts, deliveries = _attempt_rows(), _open_deliveries()
    braze.add_fault(Fault(status=503, times=1))
    _end_the_hold()
    assert outbox.due_environment_ids() == [environment.pk]  # its retries are an hour away
    started = timezone.now()

    worker.run_once()

    [probe] = _probes(braze)
    assert probe.status == 503
    gate = _gate(environment)
    assert gate.consecutive_failures == 2 and gate.blocked_until > started
    assert _attempt_rows() == attempts and _open_deliveries() == deliveries
    assert outbox.due_environment_ids() == []  # held again: no probe before the next interval
    worker.run_once()
    assert len(braze.received) == 2


def test_a_delivery_past_its_retry_window_still_dies_on_its_next_failure(
    ingest, braze, environment, settings
):
    assert settings.DELIVERY_RETRY_WINDOW_SECONDS >= 24 * 3600
    [pk] = ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    over = timedelta(seconds=settings.DELIVERY_RETRY_WINDOW_SECONDS + 3600)
    Delivery.objects.filter(pk=pk).update(created_at=timezone.now() - over)
    _end_the_hold()
    assert recovery.probe(environment.pk)  # Braze answers: its retry is due at once
    braze.add_fault(Fault(status=503, times=1))  # and fails again

    worker.run_once()

    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == "dead" and delivery.reason.startswith("Gave up retrying")
    assert delivery.attempt_count == 2


def test_a_failed_probe_gives_up_only_the_due_retries_past_their_window(
    ingest, braze, environment, settings
):
    old, young = ingest.send_async("support-bot", "u-old", "u-young")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    now, window = timezone.now(), timedelta(seconds=settings.DELIVERY_RETRY_WINDOW_SECONDS)
    Delivery.objects.filter(pk=old).update(created_at=now - window - timedelta(hours=1))
    Delivery.objects.filter(pk=young).update(created_at=now - window + timedelta(hours=4))
    Delivery.objects.update(next_attempt_at=now)  # both due on their own schedule
    attempts = _attempt_rows()
    _end_the_hold()
    braze.add_fault(Fault(status=503, times=1))

    worker.run_once()

    assert [r.status for r in _probes(braze)] == [503]
    dead, alive = Delivery.objects.get(pk=old), Delivery.objects.get(pk=young)
    assert dead.status == "dead" and "Gave up retrying" in dead.reason
    assert alive.status == "retrying"
    assert dead.attempt_count == alive.attempt_count == 1 and _attempt_rows() == attempts


def test_the_probe_is_an_empty_object_and_leaves_no_attempt_row(
    ingest, braze, environment, production_waits, caplog
):
    [pk] = ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    _end_the_hold()
    attempts = _attempt_rows()

    with caplog.at_level(logging.INFO, logger="mappings.delivery.recovery"):
        assert recovery.probe(environment.pk) is True

    [probe] = braze.received[1:]
    assert (probe.method, probe.path, probe.raw_body) == ("POST", "/users/track", b"{}")
    assert probe.headers["authorization"] == f"Bearer {BRAZE_KEY}"
    assert probe.status == 400 and probe.answer == {"message": NO_VALID_DATA}
    assert braze.accepted_objects("attributes") == []
    assert _attempt_rows() == attempts
    gate = _gate(environment)
    assert gate.consecutive_failures == 0 and gate.blocked_until is None
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.attempt_count == 1 and delivery.next_attempt_at <= timezone.now()
    assert "Probing Braze for environment" in caplog.text
    assert "answered the probe" in caplog.text and "with 400" in caplog.text
    assert BRAZE_KEY not in caplog.text


def test_the_sweep_lists_an_environment_to_probe_only_once_its_hold_has_ended(
    ingest, braze, environment, production_waits
):
    ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    gates = DeliveryGate.objects.filter(environment=environment)
    assert outbox.due_environment_ids() == []  # held

    gates.update(blocked_until=timezone.now() - timedelta(seconds=1))
    assert outbox.due_environment_ids() == [environment.pk]
    gates.update(paused_reason="Credential problem")
    assert outbox.due_environment_ids() == []
    gates.update(paused_reason="", consecutive_failures=0)
    assert outbox.due_environment_ids() == []  # no failures: its retries wait their own time


def test_a_probe_keeps_the_backoff_of_a_request_a_lost_worker_left(
    ingest, braze, environment, production_waits
):
    lost, failed = ingest.send_async("support-bot", "u1", "u2")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    later = timezone.now() + timedelta(minutes=5)
    Delivery.objects.filter(pk=lost).update(reason=outbox.INTERRUPTED, next_attempt_at=later)
    _end_the_hold()

    assert recovery.probe(environment.pk)

    assert Delivery.objects.get(pk=lost).next_attempt_at == later
    assert Delivery.objects.get(pk=failed).next_attempt_at <= timezone.now()


def test_a_probe_keeps_the_backoff_of_a_retry_whose_last_try_was_cut_at_its_deadline(
    ingest, braze, environment, production_waits, settings
):
    """Braze may have applied the cut request: its copy waits its own backoff, not the probe."""
    settings.BRAZE_REQUEST_DEADLINE_SECONDS = 0.3
    [cut] = ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(times=1, trickle_interval_seconds=0.2, trickle_chunk_bytes=2))
    worker.run_once()
    _end_the_hold()
    braze.add_fault(Fault(status=503, times=1))
    assert ingest.post("support-bot", conversation_for("u2")).json()["status"] == "queued"
    failed = Delivery.objects.get(external_id="u2")
    _end_the_hold()
    backoff_of_cut = Delivery.objects.get(pk=cut).next_attempt_at

    assert recovery.probe(environment.pk)

    assert DeliveryAttempt.objects.get(delivery_id=cut).ambiguous
    assert Delivery.objects.get(pk=cut).next_attempt_at == backoff_of_cut
    assert backoff_of_cut > timezone.now() + timedelta(minutes=25)  # its own, from 1 h
    assert not DeliveryAttempt.objects.get(delivery=failed).ambiguous  # a 503 applied nothing
    assert Delivery.objects.get(pk=failed.pk).next_attempt_at <= timezone.now()


def test_a_probe_answered_401_lets_the_send_park_the_environment(
    ingest, braze, environment, production_waits
):
    environment.credential.set_api_key("wrong-key-0000")
    environment.credential.save()
    [pk] = ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=1))  # an outage answers before the key is checked
    worker.run_once()
    _end_the_hold()

    worker.run_once()

    assert [r.status for r in braze.received] == [503, 401, 401]
    assert braze.received[1].body == {}
    assert "Credential problem" in Delivery.objects.get(pk=pk).reason
    assert _gate(environment).paused_reason


def test_a_sync_delivery_after_an_outage_also_resumes_the_waiting_retries(
    ingest, braze, environment, production_waits
):
    [waiting] = ingest.send_async("support-bot", "u1")
    braze.add_fault(Fault(status=503, times=1))
    worker.run_once()
    _end_the_hold()

    response = ingest.post("support-bot", conversation_for("u2"))  # sync: sent by the request

    assert response.json()["status"] == "delivered"
    assert Delivery.objects.get(pk=waiting).next_attempt_at <= timezone.now()
    assert _gate(environment).consecutive_failures == 0
