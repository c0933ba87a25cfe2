"""Acceptance with real processes: Celery workers on real Redis, ingests over real HTTP.

The worker processes share the test database, so these run on PostgreSQL only: the SQLite test
database is in memory, private to this process.
"""

import collections
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings as django_settings
from django.db import connection

from integration_admin.celery import app as celery_app
from mappings.fake_braze import Fault
from mappings.models import ApiClient, Delivery, DeliveryAttempt
from tests.conftest import conversation_for
from tests.processes import database_url

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(settings):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a database shared between processes (PostgreSQL)")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    client.flushdb()  # our own numbered database only: stale tasks of an earlier run
    settings.CELERY_BROKER_URL = REDIS_URL
    celery_app.conf.broker_url = REDIS_URL
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
