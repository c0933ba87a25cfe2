"""Acceptance with real processes: Celery workers on real Redis, ingests over real HTTP.

The worker processes share the test database, so these run on PostgreSQL only: the SQLite test
database is in memory, private to this process.
"""

import collections
import itertools
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from mappings.fake_braze import Fault
from mappings.models import ApiClient, Delivery, DeliveryAttempt
from tests.conftest import conversation_for
from tests.processes import ServiceProcesses, database_url, redis_broker

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(settings):
    client = redis_broker(settings, REDIS_URL, "worker processes")
    yield client
    client.flushdb()


class Workers:
    """Celery worker processes started (and killed) by a test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def start(self, *, beat: bool, **overrides: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "BRAZE_KEY_ENCRYPTION_KEYS": ",".join(django_settings.BRAZE_KEY_ENCRYPTION_KEYS),
            "SECRET_KEY": django_settings.SECRET_KEY,
            "DELIVERY_BACKOFF_BASE_SECONDS": "0.1",
            "DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
            "DELIVERY_SWEEP_INTERVAL_SECONDS": "0.5",
            "DELIVERY_LEASE_SECONDS": "2",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
        command = [
            sys.executable, "-m", "celery", "-A", "integration_admin", "worker", "--pool", "solo",
            "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(self.tmp_path / f"beat-{len(self.processes)}")]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(self.tmp_path / "worker.log", "ab"),  # noqa: SIM115
        )  # fmt: skip
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)


@pytest.fixture
def workers(broker, tmp_path, transactional_db):
    started = Workers(tmp_path)
    yield started
    started.stop_all()


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _all_delivered() -> bool:
    return not Delivery.objects.exclude(status="delivered").exists()


def _post_async(session, base_url: str, token: str, user_ids) -> None:
    for user_id in user_ids:
        response = session.post(
            f"{base_url}/api/v1/ingest/support-bot/?mode=async",
            json=conversation_for(user_id),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text


def _post_concurrently(base_url: str, token: str, user_ids: list[str], clients: int) -> None:
    def post(share: list[str]) -> None:
        with requests.Session() as session:
            _post_async(session, base_url, token, share)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(post, user_ids[n::clients]) for n in range(clients)]:
            future.result()


def test_a_503_outage_during_2000_ingests_loses_and_doubles_nothing(
    workers, live_server, api_token, braze
):
    ApiClient.objects.update(rate_limit="100000/min")  # a busy platform, above the default
    workers.start(beat=True)
    braze.add_fault(Fault(status=503, for_seconds=3.0))
    user_ids = [f"u{n}" for n in range(2000)]

    _post_concurrently(live_server.url, api_token, user_ids, clients=4)
    _wait_for(_all_delivered, 120, "every delivery to be delivered")

    assert any(request.status == 503 for request in braze.received)
    counts = collections.Counter(o["external_id"] for o in braze.accepted_objects("attributes"))
    assert set(counts) == set(user_ids)  # none lost
    assert max(counts.values()) == 1  # none doubled
    # Empty bodies are the probes that found Braze back (mappings/delivery/recovery.py).
    assert all(len(r.body.get("attributes", [])) <= 75 for r in braze.received)


def test_a_worker_killed_mid_delivery_is_recovered_by_the_sweep(
    workers, live_server, api_token, braze
):
    braze.add_fault(Fault(delay_seconds=4.0, times=1))  # the first request hangs
    user_ids = [f"k{n}" for n in range(30)]
    with requests.Session() as session:
        _post_async(session, live_server.url, api_token, user_ids)
    doomed = workers.start(beat=False, DELIVERY_CLAIM_SIZE="10")
    in_flight = DeliveryAttempt.objects.filter(sent_at__isnull=False, outcome="pending")
    _wait_for(in_flight.exists, 60, "the first worker to be mid-request")
    in_flight_ids = set(in_flight.values_list("delivery__external_id", flat=True))

    workers.kill(doomed)
    workers.start(beat=True)
    _wait_for(_all_delivered, 90, "the sweep and a new worker to deliver everything")

    counts = collections.Counter(o["external_id"] for o in braze.accepted_objects("attributes"))
    assert set(counts) == set(user_ids)  # nothing lost
    doubled = {user for user, count in counts.items() if count > 1}
    assert doubled <= in_flight_ids  # only what was in the one request at the kill
    assert len(doubled) <= len(in_flight_ids) == 10
    interrupted = DeliveryAttempt.objects.filter(ambiguous=True)
    assert set(interrupted.values_list("delivery__external_id", flat=True)) == in_flight_ids


# A Braze that trickles its answer (2 bytes every 0.2 s: about 17 s for the whole answer) to the
# first two requests; each is cut at a 2 s deadline. The environment is then held 1 to 2 s before
# a probe finds Braze answering, but a cut request may have been applied, so its records wait their
# own backoff, 3 to 6 s (half fixed, half jitter), before a copy goes again.
TRICKLING_BRAZE = Fault(times=2, trickle_interval_seconds=0.2, trickle_chunk_bytes=2)
DEADLINE_SECONDS = 2.0
BACKOFF_SECONDS = 6.0
SLOW_BRAZE_SETTINGS = {
    "BRAZE_REQUEST_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
    "DELIVERY_LEASE_SECONDS": "10",  # well past the deadline: no lease runs out mid-request
    "DELIVERY_CLAIM_SIZE": "5",  # so the records need two claims, one for each worker
    "DELIVERY_SWEEP_INTERVAL_SECONDS": "0.5",
    "DELIVERY_PROBE_INTERVAL_BASE_SECONDS": "2",
    "DELIVERY_PROBE_INTERVAL_MAX_SECONDS": "2",
    "DELIVERY_BACKOFF_BASE_SECONDS": str(BACKOFF_SECONDS),
    "DELIVERY_BACKOFF_MAX_SECONDS": str(BACKOFF_SECONDS),
}


@pytest.fixture
def services(broker, tmp_path, transactional_db):
    started = ServiceProcesses(tmp_path, REDIS_URL)
    yield started
    started.stop_all()


def _arrivals_by_user(braze) -> dict[str, list[float]]:
    """When each user's record reached the fake Braze, once per copy, in order."""
    arrivals = collections.defaultdict(list)
    for request in braze.received:
        for obj in request.body.get("attributes", []):
            arrivals[obj["external_id"]].append(request.received_at)
    return arrivals


def test_two_workers_against_a_trickling_braze_send_one_copy_until_the_backoff_has_passed(
    services, live_server, api_token, braze
):
    braze.add_fault(TRICKLING_BRAZE)
    services.start_worker(beat=True, prefetch_multiplier=1, **SLOW_BRAZE_SETTINGS)
    services.start_worker(prefetch_multiplier=1, **SLOW_BRAZE_SETTINGS)
    services.wait_until_workers_answer()
    user_ids = [f"t{n}" for n in range(10)]

    _post_concurrently(live_server.url, api_token, user_ids, clients=4)
    _wait_for(_all_delivered, 40, "every delivery to be delivered after the trickle")

    first, second = [r for r in braze.received if r.answer_outcome == "client_gone"]
    assert first.status == second.status == 201  # applied on arrival; the answer never finished
    # Both in flight at once, on two connections: each worker had a claim of its own.
    assert first.connection_id != second.connection_id
    assert second.received_at < first.answer_finished_at
    ambiguous = DeliveryAttempt.objects.filter(ambiguous=True)
    assert ambiguous.count() == len(first.body["attributes"]) + len(second.body["attributes"])
    for attempt in ambiguous:
        assert attempt.outcome == "failed" and "deadline" in attempt.error
        assert 2000 <= attempt.duration_ms < 2600  # cut at the deadline, not 17 s later
    flagged = collections.Counter(ambiguous.values_list("delivery__external_id", flat=True))
    arrivals = _arrivals_by_user(braze)
    assert set(arrivals) == set(user_ids)  # none lost
    least_wait = DEADLINE_SECONDS + BACKOFF_SECONDS / 2
    for user_id, copies in arrivals.items():
        # One copy per record, plus one per attempt flagged ambiguous (Braze applied the cut one).
        assert len(copies) == 1 + flagged[user_id], (user_id, copies)
        # A re-send waited for the cut (the deadline) and then the least backoff (its fixed
        # half), longer than the hold: never two copies in flight, none before the backoff.
        assert all(b - a >= least_wait - 0.05 for a, b in itertools.pairwise(copies)), copies
    delivered = collections.Counter(o["external_id"] for o in braze.accepted_objects("attributes"))
    assert delivered == collections.Counter({u: len(c) for u, c in arrivals.items()})
