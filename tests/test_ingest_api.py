"""The ingest endpoint end to end: requests through the in-process test client (Django's and
DRF's whole request stack, no socket); the Braze call is real HTTP to the fake Braze."""

import pytest

from mappings.fake_braze import Fault
from mappings.models import ApiClient, Delivery, DeliveryAttempt
from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db


def test_it_sends_the_mapped_attributes_to_braze_and_answers_success(ingest, braze, conversation):
    response = ingest.post("support-bot", conversation)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "delivered"
    assert body["braze"] == {"status": 201, "message": "success"}
    [received] = braze.received
    assert received.path == "/users/track"
    assert received.headers["authorization"] == f"Bearer {BRAZE_KEY}"
    assert received.headers["content-type"].startswith("application/json")
    assert received.body == {
        "attributes": [
            {
                "external_id": "u-42",
                "email": "zoe@example.com",
                "first_name": "Zoë",
                "home_city": "Lisbon",
                "plan_interest": "premium",
            }
        ]
    }
    assert body["sent"] == received.body


def test_it_logs_the_call_with_its_response(ingest, braze, conversation, mapping_set):
    response = ingest.post("support-bot", conversation)

    delivery = Delivery.objects.get(pk=response.json()["delivery_id"])
    assert delivery.status == "delivered"
    assert delivery.received_payload == conversation
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == "success"
    assert attempt.response_status == 201
    assert '"message": "success"' in attempt.response_body.replace('":"', '": "')
    assert attempt.url == f"{braze.url}/users/track"
    assert attempt.environment == mapping_set.environment
    assert attempt.mapping_set == mapping_set
    assert attempt.duration_ms is not None


def test_it_leaves_out_optional_fields_that_are_missing_rather_than_sending_null(
    ingest, braze, conversation
):
    del conversation["answers"]["plan"]
    conversation["answers"]["city"] = None

    ingest.post("support-bot", conversation)

    [attributes] = braze.received[0].body["attributes"]
    assert "plan_interest" not in attributes
    assert "home_city" not in attributes


def test_it_sends_the_partner_field_only_when_configured(ingest, braze, conversation, mapping_set):
    ingest.post("support-bot", conversation)
    mapping_set.braze_partner = "pypestream"
    mapping_set.save()
    ingest.post("support-bot", conversation)

    first, second = braze.received
    assert "partner" not in first.body
    assert second.body["partner"] == "pypestream"


def test_it_answers_422_listing_every_missing_required_field(ingest, braze, conversation):
    del conversation["user"]["profile"]

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "mapping_failed"
    assert body["error"]["details"]["missing"] == ["user.profile.email", "user.profile.first_name"]
    assert braze.received == []
    delivery = Delivery.objects.get(pk=body["delivery_id"])
    assert delivery.status == "rejected"
    assert "user.profile.email" in delivery.reason


def test_it_answers_422_when_the_user_identifier_is_missing(ingest, braze, conversation):
    del conversation["user"]["id"]

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 422
    assert response.json()["error"]["details"]["missing"] == ["user.id"]


def test_it_answers_400_on_malformed_json(ingest, braze):
    response = ingest.post("support-bot", '{"user": {"id": "u-1",}')

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "malformed_json"
    assert braze.received == []


def test_it_answers_400_when_the_body_is_not_an_object(ingest, braze):
    response = ingest.post("support-bot", "[1, 2]")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_body"


def test_it_answers_415_on_a_non_json_content_type(ingest, braze):
    response = ingest.post(
        "support-bot", "user=1", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_it_answers_401_without_a_token(ingest, braze, conversation):
    response = ingest.post("support-bot", conversation, token="")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert braze.received == []


def test_it_answers_401_with_an_unknown_token(ingest, braze, conversation):
    response = ingest.post("support-bot", conversation, token="bzb_not-a-real-token")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_it_answers_401_for_a_deactivated_client(ingest, braze, conversation):
    ApiClient.objects.update(is_active=False)

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 401


def test_it_answers_403_when_the_client_may_not_use_the_mapping_set(ingest, braze, conversation):
    ApiClient.objects.get().mapping_sets.clear()

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert braze.received == []


def test_it_answers_404_for_an_unknown_mapping_set(ingest, braze, conversation):
    response = ingest.post("no-such-bot", conversation)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_mapping_set"


def test_it_answers_404_for_an_inactive_mapping_set(ingest, braze, conversation, mapping_set):
    mapping_set.is_active = False
    mapping_set.save()

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "mapping_set_inactive"


def test_it_records_the_last_use_of_a_token(ingest, braze, conversation):
    ingest.post("support-bot", conversation)

    assert ApiClient.objects.get().last_used_at is not None


def test_it_answers_502_with_brazes_reason_when_braze_refuses_the_key(
    ingest, braze, conversation, environment
):
    environment.credential.set_api_key("wrong-key-0000")
    environment.credential.save()

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 502
    body = response.json()
    assert body["success"] is False
    assert body["status"] == "failed"
    assert body["braze"]["status"] == 401
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed"
    assert attempt.response_status == 401
    assert Delivery.objects.get().status == "failed"


def test_it_refuses_a_value_braze_would_reject_before_calling_braze(ingest, braze, conversation):
    conversation["user"]["profile"]["email"] = "not-an-email"

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 422
    [problem] = response.json()["error"]["details"]["problems"]
    assert problem["target"] == "email"
    assert problem["code"] == "invalid"
    assert problem["value"] == "not-an-email"
    assert braze.received == []
    assert Delivery.objects.get().status == "rejected"


def test_it_keeps_brazes_per_object_error_as_the_failure_reason(ingest, braze, conversation):
    braze.add_fault(Fault(reject_indexes={"attributes": [0]}, times=1))

    response = ingest.post("support-bot", conversation)

    assert response.json()["success"] is False
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed"
    assert "attributes[0]" in attempt.error
    assert "attributes[0]" in Delivery.objects.get().reason


def test_it_answers_queued_and_keeps_retrying_when_braze_is_down(ingest, braze, conversation):
    braze.add_fault(Fault(status=503, times=1))

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "queued"
    assert body["braze"]["status"] == 503
    delivery = Delivery.objects.get(pk=body["delivery_id"])
    assert delivery.status == "retrying"
    assert delivery.next_attempt_at is not None
    assert "503" in delivery.reason


def test_it_logs_a_failed_call_when_braze_is_unreachable(ingest, conversation, environment):
    environment.rest_endpoint = "http://127.0.0.1:9"
    environment.save()

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed"
    assert "Could not reach Braze" in attempt.error
    assert attempt.response_status is None
    assert attempt.ambiguous is False  # refused: Braze never saw it


def test_it_fails_visibly_when_the_environment_has_no_api_key(
    ingest, braze, conversation, environment
):
    environment.credential.delete()

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 502
    assert "no Braze API key" in response.json()["error"]["message"]
    assert braze.received == []
    assert Delivery.objects.get().status == "failed"


def test_it_never_puts_the_api_key_in_responses_or_log_rows(ingest, braze, conversation):
    responses = [ingest.post("support-bot", conversation)]
    braze.add_fault(Fault(status=503, times=1))
    responses.append(ingest.post("support-bot", conversation))

    for response in responses:
        assert BRAZE_KEY not in response.content.decode()
    for attempt in DeliveryAttempt.objects.values():
        assert BRAZE_KEY not in str(attempt)
    for delivery in Delivery.objects.values():
        assert BRAZE_KEY not in str(delivery)
