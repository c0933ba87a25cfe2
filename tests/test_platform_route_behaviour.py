"""The platform routes beyond the happy path, over real HTTP: the platform's clock, one delivery
per turn, refusals in the platform's dialect, the ways a platform can authenticate, Braze's
partial success, and the log saying which platform called."""

import json
import time

import pytest
import requests
from django.urls import reverse

from mappings.fake_braze import Fault
from mappings.models import Delivery, FieldMapping
from tests.platform_samples import BY_ID, SAMPLES, mapping_set_for, post_to_platform

CX_SAMPLE = (SAMPLES / "dialogflow-cx" / "request.json").read_bytes()
RASA_SAMPLE = (SAMPLES / "rasa" / "request.json").read_bytes()
LEX_SAMPLE = (SAMPLES / "lex-v2" / "request.json").read_bytes()


def _edited(sample: bytes, change) -> bytes:
    document = json.loads(sample)
    change(document)
    return json.dumps(document).encode()


@pytest.fixture
def cx_set(environment):
    return mapping_set_for(BY_ID["dialogflow-cx"], environment)


@pytest.fixture
def rasa_set(environment):
    return mapping_set_for(BY_ID["rasa"], environment)


def _json(live_server, platform_id, slug, body, token, **options):
    return post_to_platform(
        live_server, platform_id, slug, body, "application/json", token, **options
    )


def _cx(live_server, token, body=CX_SAMPLE, **options):
    return _json(live_server, "dialogflow-cx", "dialogflow-cx-bot", body, token, **options)


def test_a_cx_call_with_braze_slower_than_the_budget_answers_queued_within_4_5_s(
    live_server, braze, cx_set, platform_client
):
    token = platform_client(cx_set)
    braze.add_fault(Fault(delay_seconds=8.0, times=1))

    started = time.monotonic()
    response = _cx(live_server, token)
    elapsed = time.monotonic() - started

    assert elapsed < 4.5
    assert response.status_code == 200
    parameters = response.json()["sessionInfo"]["parameters"]
    assert parameters["braze_status"] == "queued"
    assert parameters["braze_synced"] is True  # stored, retried: the flow may go on
    delivery = Delivery.objects.get()
    assert delivery.platform == "dialogflow-cx"
    assert delivery.status != "delivered"


def test_the_same_cx_turn_twice_reaches_braze_once_and_the_next_turn_again(
    live_server, braze, cx_set, platform_client
):
    token = platform_client(cx_set)

    first = _cx(live_server, token)
    repeat = _cx(live_server, token)
    next_turn = _cx(live_server, token, _edited(CX_SAMPLE, _next_cx_turn))

    assert first.status_code == repeat.status_code == next_turn.status_code == 200
    assert repeat.content == first.content  # the first answer, byte for byte
    assert len(braze.received) == 2
    ids = {r.json()["sessionInfo"]["parameters"]["braze_delivery_id"] for r in (first, next_turn)}
    assert len(ids) == 2
    assert Delivery.objects.count() == 2


def _next_cx_turn(request: dict) -> None:
    request["detectIntentResponseId"] = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def test_a_resent_turn_with_a_different_body_gets_the_first_answer_not_a_conflict(
    live_server, braze, cx_set, platform_client
):
    token = platform_client(cx_set)

    def other_city(request: dict) -> None:
        request["sessionInfo"]["parameters"]["city"] = "Recife"

    first = _cx(live_server, token)
    resent = _cx(live_server, token, _edited(CX_SAMPLE, other_city))

    assert resent.status_code == 200
    assert resent.content == first.content
    assert len(braze.received) == 1


def test_the_same_rasa_turn_twice_reaches_braze_once_and_the_next_message_again(
    live_server, braze, rasa_set, platform_client
):
    token = platform_client(rasa_set)

    def next_message(request: dict) -> None:
        request["tracker"]["latest_message"]["message_id"] = "9f8e7d6c5b4a49382716f5e4d3c2b1a0"

    def send(body):
        return _json(live_server, "rasa", "rasa-bot", body, token)

    answers = [send(RASA_SAMPLE), send(RASA_SAMPLE), send(_edited(RASA_SAMPLE, next_message))]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[1].content == answers[0].content
    assert len(braze.received) == 2


def test_an_idempotency_key_header_wins_over_the_turn_id(
    live_server, braze, cx_set, platform_client
):
    token = platform_client(cx_set)
    keyed = {"headers": {"Idempotency-Key": "order-77"}}

    _cx(live_server, token, **keyed)
    _cx(live_server, token, _edited(CX_SAMPLE, _next_cx_turn), **keyed)  # same key: a repeat...
    conflict = _cx(live_server, token, _edited(CX_SAMPLE, _next_cx_turn), **keyed)

    assert len(braze.received) == 1
    assert conflict.status_code == 409  # ...and a caller's own key still guards its body


def test_a_bad_token_is_refused_in_each_platforms_dialect(live_server, braze, rasa_set):
    rasa = post_to_platform(
        live_server, "rasa", "rasa-bot", RASA_SAMPLE, "application/json", "bzb_wrong"
    )
    lex = post_to_platform(
        live_server, "lex-v2", "rasa-bot", LEX_SAMPLE, "application/json", "bzb_wrong"
    )
    cx = post_to_platform(
        live_server, "dialogflow-cx", "rasa-bot", CX_SAMPLE, "application/json", ""
    )

    assert rasa.status_code == 401
    assert rasa.json() == {"action_name": "action_sync_braze_profile",
                           "error": "Invalid or revoked API token"}  # fmt: skip
    assert lex.status_code == 401
    lex_state = lex.json()["sessionState"]
    assert lex_state["intent"]["name"] == "UpdateProfile"
    assert lex_state["sessionAttributes"]["braze_synced"] == "false"
    assert cx.status_code == 401  # CX raises webhook.error.rejected; it reads no body
    assert cx.headers["WWW-Authenticate"].startswith("Bearer")
    assert braze.received == []


def test_an_unknown_mapping_set_and_an_unreadable_request_are_refused_in_the_dialect(
    live_server, braze, rasa_set, platform_client
):
    token = platform_client(rasa_set)
    unknown = post_to_platform(
        live_server, "rasa", "no-such-bot", RASA_SAMPLE, "application/json", token
    )
    unreadable = _json(live_server, "rasa", "rasa-bot", b'{"sender_id": "x"}', token)

    assert unknown.status_code == 404
    assert set(unknown.json()) == {"action_name", "error"}
    assert unreadable.status_code == 400
    assert "next_action" in unreadable.json()["error"]
    assert Delivery.objects.count() == 0


def test_twilio_studio_authenticates_with_the_token_as_the_basic_password(
    live_server, braze, environment, platform_client
):
    twilio = mapping_set_for(BY_ID["twilio-studio"], environment)
    token = platform_client(twilio)
    body, content_type = BY_ID["twilio-studio"].sample()

    good = post_to_platform(live_server, "twilio-studio", twilio.slug, body, content_type, None,
                 auth=("studio", token))  # fmt: skip
    bad = post_to_platform(live_server, "twilio-studio", twilio.slug, body, content_type, None,
                auth=("studio", "bzb_wrong"))  # fmt: skip

    assert good.status_code == 200, good.text
    assert good.json()["success"] is True
    assert bad.status_code == 401
    assert bad.json()["success"] is False
    assert len(braze.received) == 1


def test_a_token_in_the_query_string_is_refused_and_never_used(
    live_server, braze, cx_set, platform_client
):
    token = platform_client(cx_set)
    url = f"{live_server.url}/api/v1/platforms/dialogflow-cx/{cx_set.slug}/?token={token}"

    response = requests.post(url, data=CX_SAMPLE, timeout=10,
                             headers={"Content-Type": "application/json"})  # fmt: skip

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_in_url"
    assert braze.received == []


def test_an_unknown_platform_is_a_404_naming_the_known_ones(live_server, cx_set, platform_client):
    response = _json(live_server, "watson", cx_set.slug, CX_SAMPLE, platform_client(cx_set))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_platform"
    assert "dialogflow-cx" in response.json()["error"]["message"]


def _with_event(mapping_set):
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=50, source_type="constant",
        source_path="bot_conversation", target_attribute="events[0].name",
    )  # fmt: skip
    return mapping_set


@pytest.mark.parametrize(("policy", "status"), [("warn", 200), ("fail", 502)])
def test_braze_refusing_part_of_a_record_follows_the_mapping_sets_policy(
    policy, status, live_server, braze, cx_set, platform_client
):
    _with_event(cx_set)
    cx_set.partial_success = policy
    cx_set.save()
    token = platform_client(cx_set)
    braze.add_fault(Fault(reject_indexes={"events": [0]}, times=1))

    response = _cx(live_server, token)

    assert response.status_code == status
    assert len(braze.accepted_objects("attributes")) == 1  # in Braze, whatever the policy
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"  # the log shows the refusal either way...
    assert delivery.attempts.get().outcome == "partial"
    assert "events" in delivery.reason  # ...with Braze's error for the object it refused
    if policy == "warn":
        parameters = response.json()["sessionInfo"]["parameters"]
        assert parameters["braze_synced"] is True
        assert parameters["braze_status"] == "delivered"
        assert any("Braze refused events[0]" in line for line in parameters["braze_problems"])


def test_the_generic_route_answers_a_partial_success_by_the_same_policy(
    ingest, mapping_set, conversation, braze
):
    _with_event(mapping_set)
    mapping_set.partial_success = "warn"
    mapping_set.save()
    braze.add_fault(Fault(reject_indexes={"events": [0]}, times=1))

    response = ingest.post(mapping_set.slug, conversation)

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert response.json()["status"] == "partial"
    assert response.json()["braze"]["errors"][0]["input_array"] == "events"


def test_the_log_says_which_platform_called(
    live_server, braze, cx_set, platform_client, admin_client
):
    _cx(live_server, platform_client(cx_set))
    delivery = Delivery.objects.get()

    listed = admin_client.get(reverse("logs:deliveries")).content.decode()
    shown = admin_client.get(reverse("logs:delivery", args=[delivery.pk])).content.decode()
    exported = b"".join(admin_client.get(reverse("logs:deliveries-csv")).streaming_content)

    assert "<td>dialogflow-cx</td>" in listed
    assert "the <code>dialogflow-cx</code> platform route" in shown
    assert b",dialogflow-cx," in exported


def test_a_form_body_holding_a_nul_character_is_refused_before_anything_is_stored(
    live_server, braze, environment, platform_client
):
    twilio = mapping_set_for(BY_ID["twilio-studio"], environment)
    body, content_type = BY_ID["twilio-studio"].sample()

    response = post_to_platform(live_server, "twilio-studio", twilio.slug,
                                body + b"&nickname=Si%00n", content_type,
                                platform_client(twilio))  # fmt: skip

    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_string"
    assert Delivery.objects.count() == 0
