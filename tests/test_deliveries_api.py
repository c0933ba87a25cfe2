"""GET /api/v1/deliveries/<id>/ and the per-request delivery mode."""

import time
import uuid

import pytest

from mappings.delivery import worker
from mappings.fake_braze import Fault
from mappings.models import ApiClient, Delivery
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


def test_the_owner_sees_a_deliverys_state_and_attempts(ingest, braze):
    braze.add_fault(Fault(status=503, times=1))
    delivery_id = ingest.post("support-bot", conversation_for("u1")).json()["delivery_id"]
    worker.drain_all()
    time.sleep(0.3)  # the fake's backoff in tests is at most 0.2 s
    worker.drain_all()

    response = ingest.get(f"/api/v1/deliveries/{delivery_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "delivered" and body["success"] is True
    attempts = body["attempts"]
    assert [a["attempt_number"] for a in attempts] == [1, 2]
    assert attempts[0]["response_status"] == 503 and attempts[0]["outcome"] == "failed"
    assert attempts[1]["outcome"] == "success" and attempts[1]["duration_ms"] is not None


def test_another_client_gets_404_for_a_delivery_it_did_not_send(ingest, braze, mapping_set):
    delivery_id = ingest.post("support-bot", conversation_for("u1")).json()["delivery_id"]
    other = ApiClient(name="Other platform")
    other_token = other.issue_token()
    other.save()
    other.mapping_sets.add(mapping_set)

    response = ingest.get(f"/api/v1/deliveries/{delivery_id}/", token=other_token)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_delivery"
    assert ingest.get(f"/api/v1/deliveries/{uuid.uuid4()}/").status_code == 404


def test_a_request_may_choose_its_mode_over_the_mapping_sets(ingest, braze, mapping_set):
    mapping_set.delivery_mode = "async"
    mapping_set.save()

    default = ingest.post("support-bot", conversation_for("u1"))
    chosen = ingest.post("support-bot", conversation_for("u2"), mode="sync")

    assert default.status_code == 202 and default.json()["status"] == "accepted"
    assert chosen.status_code == 200 and chosen.json()["status"] == "delivered"


def test_the_mode_header_chooses_the_mode_and_the_query_parameter_wins_over_it(ingest, braze):
    by_header = ingest.post(
        "support-bot", conversation_for("u1"), headers={"x-delivery-mode": "async"}
    )
    both = ingest.post(
        "support-bot", conversation_for("u2"), mode="sync", headers={"X-Delivery-Mode": "async"}
    )

    assert by_header.status_code == 202 and by_header.json()["status"] == "accepted"
    assert both.status_code == 200 and both.json()["status"] == "delivered"


@pytest.mark.parametrize("mode", ["later", ""])
def test_an_unknown_or_empty_mode_is_refused(ingest, braze, mode):
    # Empty is not "the default": a bot template that failed to fill it in should hear so.
    response = ingest.post("support-bot", conversation_for("u1"), mode=mode)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_mode"
    assert not Delivery.objects.exists()


def test_an_empty_mode_header_is_refused(ingest, braze):
    response = ingest.post("support-bot", conversation_for("u1"), headers={"X-Delivery-Mode": ""})

    assert response.status_code == 400
