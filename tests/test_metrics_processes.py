"""/metrics with real gunicorn processes: counts from every worker add up in any scrape.

PostgreSQL only: the web processes share the test database (the SQLite one is in memory).
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mappings.models import Delivery
from tests.conftest import conversation_for
from tests.metrics_scrape import value
from tests.processes import services_on_broker

# The process tests share one broker database: Celery keeps its first broker connection pool
# for the whole run, so a second database would never reach the workers started on it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
INGESTS = 60
CLIENT_THREADS = 6

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def services(settings, tmp_path, transactional_db):
    with services_on_broker(settings, tmp_path, REDIS_URL, "web processes") as started:
        yield started


def _post(base_url: str, token: str, user_id: str) -> int:
    response = requests.post(
        f"{base_url}/api/v1/ingest/support-bot/?mode=async",
        json=conversation_for(user_id),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return response.status_code


def test_a_scrape_of_two_gunicorn_workers_adds_up_both_workers_ingests(
    services, api_token, tmp_path
):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    services.environment = _with(
        services.environment, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), METRICS_ENABLED="true"
    )
    url = services.start_web(workers=2, threads=2)

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        statuses = list(pool.map(lambda n: _post(url, api_token, f"m-{n}"), range(INGESTS)))

    assert statuses == [202] * INGESTS
    # Each worker process writes its own file: both took a share of the ingests.
    assert len(list(metrics_dir.glob("counter_*.db"))) == 2, services.logs()
    labels = {"mapping_set": "support-bot", "platform": "generic", "outcome": "pending"}
    for _ in range(4):  # each scrape lands on either worker; every one must see the sum
        text = requests.get(f"{url}/metrics", timeout=10).text
        assert value(text, "bridge_ingests_total", **labels) == INGESTS
        assert value(text, "bridge_queue_depth", environment="sandbox") == INGESTS


def test_a_web_scrape_includes_the_braze_calls_a_celery_worker_made(
    services, api_token, braze, tmp_path
):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    services.environment = _with(
        services.environment, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), METRICS_ENABLED="true"
    )
    url = services.start_web(workers=2, threads=2)
    services.start_worker()
    services.wait_until_workers_answer()

    statuses = [_post(url, api_token, f"c-{n}") for n in range(10)]
    assert statuses == [202] * 10
    deadline = time.monotonic() + 60
    while Delivery.objects.exclude(status="delivered").exists():
        assert time.monotonic() < deadline, services.logs()
        time.sleep(0.2)

    text = requests.get(f"{url}/metrics", timeout=10).text
    ours = [r for r in braze.received if r.body["attributes"][0]["external_id"].startswith("c-")]
    assert value(text, "bridge_braze_requests_total", status="201") == len(ours) >= 1
    assert value(text, "bridge_braze_request_duration_seconds_count") == len(ours)
    assert value(text, "bridge_queue_depth", environment="sandbox") == 0


def _with(environment, **extra: str):
    def environment_with(**overrides: str) -> dict[str, str]:
        return environment(**{**extra, **overrides})

    return environment_with
