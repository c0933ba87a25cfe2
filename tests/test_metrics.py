"""GET /metrics: who may read it, and that ingests, Braze calls and database facts show up."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mappings.fake_braze import Fault
from mappings.models import Delivery, DeliveryGate
from mappings.models.audit import DeliveryStatus
from tests.metrics_scrape import value

pytestmark = pytest.mark.django_db


def scrape(**headers: str) -> str:
    response = Client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_it_is_not_found_when_metrics_are_off(settings):
    settings.METRICS_ENABLED = False
    assert Client().get("/metrics").status_code == 404


def test_it_asks_for_the_bearer_token_when_one_is_set(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = "scrape-secret"
    assert Client().get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert Client().get("/metrics", headers=wrong).status_code == 401
    assert "bridge_dead_deliveries" in scrape(Authorization="Bearer scrape-secret")


def test_it_refuses_an_address_outside_the_allowlist(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics").status_code == 403  # the test client is 127.0.0.1
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    assert "bridge_queue_depth" in scrape()


def test_production_refuses_an_unguarded_endpoint(settings):
    settings.METRICS_ENABLED = True
    settings.PRODUCTION = True
    assert Client().get("/metrics").status_code == 403


def test_it_counts_ingests_by_set_platform_and_outcome(settings, ingest, conversation):
    settings.METRICS_ENABLED = True
    labels = {"mapping_set": "support-bot", "platform": "generic"}
    before = scrape()
    assert ingest.post("support-bot", conversation).status_code == 200
    assert ingest.post("support-bot", {"user": {"id": "u-1"}}).status_code == 422
    after = scrape()
    for outcome in ("delivered", "rejected"):
        name = "bridge_ingests_total"
        grown = value(after, name, outcome=outcome, **labels) - value(
            before, name, **labels, outcome=outcome
        )
        assert grown == 1, outcome


def test_it_counts_braze_calls_by_status_and_times_them(settings, ingest, conversation, braze):
    settings.METRICS_ENABLED = True
    before = scrape()
    braze.add_fault(Fault(status=400))
    ingest.post("support-bot", conversation)
    ingest.post("support-bot", {**conversation, "user": {**conversation["user"], "id": "u-43"}})
    after = scrape()

    def grown(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grown("bridge_braze_requests_total", status="400") == 1
    assert grown("bridge_braze_requests_total", status="201") == 1
    assert grown("bridge_braze_request_duration_seconds_count") == 2
    assert grown("bridge_braze_request_duration_seconds_bucket", le="+Inf") == 2


def test_it_reads_queue_holds_and_dead_deliveries_from_the_database(
    settings, ingest, conversation, environment
):
    settings.METRICS_ENABLED = True
    ingest.post("support-bot", conversation, mode="async")
    ingest.post("support-bot", {**conversation, "user": {**conversation["user"], "id": "u-9"}})
    Delivery.objects.filter(external_id="u-42").update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    Delivery.objects.filter(external_id="u-9").update(status=DeliveryStatus.DEAD)
    DeliveryGate.objects.update_or_create(
        environment=environment, defaults={"paused_reason": "401 from Braze"}
    )
    text = scrape()
    assert value(text, "bridge_queue_depth", environment="sandbox") == 1
    assert value(text, "bridge_queue_oldest_open_age_seconds", environment="sandbox") >= 300
    assert value(text, "bridge_dead_deliveries") == 1
    assert value(text, "bridge_environment_held", environment="sandbox", reason="paused") == 1
    assert value(text, "bridge_environment_held", environment="sandbox", reason="backoff") == 0


def test_it_counts_refusals_before_ingest_by_route_status_and_code(settings, api_token):
    settings.METRICS_ENABLED = True
    http, url = Client(), "/api/v1/ingest/support-bot/"
    before = scrape()
    wrong_token = http.post(url, {}, headers={"Authorization": "Bearer bzb_not-a-token"})
    bad_json = http.post(
        url, "{not json", content_type="application/json",
        headers={"Authorization": f"Bearer {api_token}"},
    )  # fmt: skip
    after = scrape()

    def grown(**labels: str) -> float:
        name = "bridge_refused_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert (wrong_token.status_code, wrong_token.json()["error"]["code"]) == (401, "invalid_token")
    assert (bad_json.status_code, bad_json.json()["error"]["code"]) == (400, "malformed_json")
    assert grown(route="ingest", status="401", code="invalid_token") == 1
    assert grown(route="ingest", status="400", code="malformed_json") == 1
