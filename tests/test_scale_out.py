"""The production topology in one test: several gunicorn web processes and several Celery workers
on Redis, real sockets, PostgreSQL; 10,000 records go through with no duplicate and no loss.

PostgreSQL only: the processes share the test database, and the SQLite one is in memory.
"""

import collections
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mappings.models import ApiClient, Delivery
from tests.conftest import conversation_for
from tests.processes import ServiceProcesses, services_on_broker

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
RECORDS = 10_000
CLIENT_THREADS = 8

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def services(settings, tmp_path, transactional_db):
    with services_on_broker(settings, tmp_path, REDIS_URL, "web and worker processes") as started:
        yield started


def _post_share(base_urls: list[str], token: str, user_ids: list[str]) -> list[int]:
    statuses = []
    with requests.Session() as session:
        for n, user_id in enumerate(user_ids):
            response = session.post(
                f"{base_urls[n % len(base_urls)]}/api/v1/ingest/support-bot/?mode=async",
                json=conversation_for(user_id),
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            statuses.append(response.status_code)
    return statuses


def _wait_until_all_delivered(services: ServiceProcesses, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while Delivery.objects.exclude(status="delivered").exists():
        assert time.monotonic() < deadline, "not delivered in time:\n" + services.logs()
        time.sleep(0.5)


def test_two_web_servers_and_three_celery_workers_deliver_10000_records_exactly_once(
    services, api_token, braze
):
    ApiClient.objects.update(rate_limit="1000000/min")  # one busy platform, far above the default
    web_urls = [services.start_web(workers=2), services.start_web(workers=2)]
    services.start_worker(beat=True)
    services.start_worker()
    services.start_worker()
    user_ids = [f"scale-{n}" for n in range(RECORDS)]

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        shares = [user_ids[n::CLIENT_THREADS] for n in range(CLIENT_THREADS)]
        statuses = [s for f in [pool.submit(_post_share, web_urls, api_token, share)
                                for share in shares] for s in f.result()]  # fmt: skip
    _wait_until_all_delivered(services, timeout=300)

    assert collections.Counter(statuses) == {202: RECORDS}
    assert Delivery.objects.count() == RECORDS
    # Only ours: a request an earlier test's killed worker left hanging may land in the shared fake.
    accepted = [o["external_id"] for o in braze.accepted_objects("attributes")]
    counts = collections.Counter(user for user in accepted if user.startswith("scale-"))
    assert set(counts) == set(user_ids)  # none lost
    assert max(counts.values()) == 1  # none doubled
    assert all(len(request.body["attributes"]) <= 75 for request in braze.received)
