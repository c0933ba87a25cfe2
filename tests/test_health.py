"""Liveness and readiness probes for load balancers."""

import pytest
from django.test import Client

from mappings.models import Delivery
from mappings.models.audit import DeliveryStatus


def test_liveness_answers_without_touching_the_database(django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_the_database_and_the_queue_depth(ingest, braze, conversation):
    ingest.post("support-bot", conversation)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.RETRYING)

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True, "configured": False}},
        "queue_depth": 1,
    }


@pytest.mark.django_db
def test_readiness_checks_a_configured_redis_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/6"

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {"ok": True, "configured": True, "checked": True}


@pytest.mark.django_db
def test_readiness_fails_when_the_broker_is_unreachable(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"

    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert "127.0.0.1:9" not in response.content.decode()


@pytest.mark.django_db
def test_probes_need_no_credentials_and_ignore_a_bad_token():
    response = Client().get("/readyz", headers={"Authorization": "Bearer nonsense"})

    assert response.status_code == 200
