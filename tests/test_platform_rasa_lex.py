"""Rasa (action server webhook) and Amazon Lex V2 (Lambda event) adapters, as plain data."""

import json
from pathlib import Path

import pytest

from mappings.platforms.base import Outcome, PlatformRequestError, RawRequest
from mappings.platforms.lex_v2 import ADAPTER as LEX
from mappings.platforms.rasa import ADAPTER as RASA
from mappings.platforms.rasa import local_date

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "platforms"
RASA_SAMPLE = (SAMPLES / "rasa" / "request.json").read_bytes()
LEX_SAMPLE = (SAMPLES / "lex-v2" / "request.json").read_bytes()
OUTCOMES = {
    "delivered": Outcome("delivered", True, "0f1e2d3c", 201, "success"),
    "queued": Outcome("queued", True, "0f1e2d3c"),
    "accepted": Outcome("accepted", True, "0f1e2d3c"),
    "failed": Outcome("failed", False, "0f1e2d3c", 400, "Invalid API key"),
    "rejected": Outcome("rejected", False, "0f1e2d3c", message="missing email"),
}


def _edited(sample: bytes, change) -> bytes:
    request = json.loads(sample)
    change(request)
    return json.dumps(request).encode()


def test_rasa_parse_reads_slots_with_duckling_dates_as_the_users_local_date():
    request = RASA.parse(RawRequest(RASA_SAMPLE, "application/json"))
    bridge = request.conversation["bridge"]

    # 00:00 on 12 April at +01:00 is 23:00 on 11 April in UTC: the birthday is the 12th.
    assert bridge["parameters"]["date_of_birth"] == "1990-04-12"
    assert request.conversation["tracker"]["slots"]["date_of_birth"].startswith("1990-04-12T00")
    assert bridge["parameters"]["first_name"] == "  Inês "
    assert bridge["parameters"]["newsletter"] is True
    assert "favourite_city" not in bridge["parameters"]
    assert "braze_synced" not in bridge["parameters"]  # our own write-back, not a fact
    assert bridge["session"] == request.session_id == "whatsapp:+351912345678"
    assert bridge["text"] == "nasci a 12 de abril de 1990"
    assert "domain" not in request.conversation


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1990-04-12T00:00:00.000+01:00", "1990-04-12"),
        ("1990-04-12T00:00:00.000-07:00", "1990-04-12"),
        ("1990-04-12T00:00:00Z", "1990-04-12"),
        ("2026-11-20T15:30:00.000+01:00", "2026-11-20T15:30:00.000+01:00"),  # not day grain
        ({"from": "2026-11-20T00:00:00.000+01:00", "to": None}, None),
    ],
)
def test_a_duckling_day_is_the_local_date_and_anything_else_stays(value, expected):
    assert local_date(value) == (value if expected is None else expected)


def test_rasa_turn_is_the_sender_the_latest_message_and_the_action():
    first = RASA.parse(RawRequest(RASA_SAMPLE, "application/json"))
    again = RASA.parse(RawRequest(RASA_SAMPLE, "application/json"))

    def next_message(request):
        request["tracker"]["latest_message"]["message_id"] = "5d3f9a2b"

    next_turn = RASA.parse(RawRequest(_edited(RASA_SAMPLE, next_message), "application/json"))

    assert first.turn_id == (
        "4c2e8f1a9b7d4e3f8a6c5b2d1e0f9a87:whatsapp:+351912345678:action_sync_braze_profile"
    )
    assert again.turn_id == first.turn_id and again.conversation == first.conversation
    assert next_turn.turn_id != first.turn_id


def test_rasa_turn_falls_back_to_the_time_of_the_latest_user_event():
    def without_ids(request):
        request["tracker"]["latest_message"].pop("message_id")
        for event in request["tracker"]["events"]:
            event.pop("message_id", None)

    request = RASA.parse(RawRequest(_edited(RASA_SAMPLE, without_ids), "application/json"))

    assert request.turn_id.startswith("1763633564.301:")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.pop("next_action"), "next_action"),
        (lambda r: r.pop("tracker"), "tracker"),
        (lambda r: (r.pop("sender_id"), r["tracker"].pop("sender_id")), "sender_id"),
        (lambda r: r["tracker"].update(slots="none"), "tracker.slots"),
    ],
)
def test_rasa_requests_without_their_structure_are_refused_naming_the_field(change, field):
    with pytest.raises(PlatformRequestError, match=field.replace(".", r"\.")):
        RASA.parse(RawRequest(_edited(RASA_SAMPLE, change), "application/json"))


@pytest.mark.parametrize("status", ["delivered", "queued", "accepted"])
def test_rasa_answers_success_with_slot_events(status):
    request = RASA.parse(RawRequest(RASA_SAMPLE, "application/json"))

    response = RASA.respond(OUTCOMES[status], request)
    slots = {event["name"]: event["value"] for event in response.body["events"]}

    assert response.status == 200
    assert all(event["event"] == "slot" for event in response.body["events"])
    assert slots == {"braze_synced": True, "braze_status": status, "braze_delivery_id": "0f1e2d3c"}
    assert response.body["responses"] == []


@pytest.mark.parametrize("status", ["failed", "rejected"])
def test_rasa_answers_failure_as_a_rejected_action_the_story_can_handle(status):
    request = RASA.parse(RawRequest(RASA_SAMPLE, "application/json"))

    response = RASA.respond(OUTCOMES[status], request)

    assert response.status == 400
    assert set(response.body) == {"action_name", "error"}
    assert response.body["action_name"] == "action_sync_braze_profile"


def test_rasa_sets_only_the_slots_the_domain_declares_and_says_so_when_asked():
    def fewer_slots(request):
        del request["domain"]["slots"]["braze_delivery_id"]

    request = RASA.parse(RawRequest(_edited(RASA_SAMPLE, fewer_slots), query={"messages": "1"}))

    response = RASA.respond(OUTCOMES["delivered"], request)

    assert [event["name"] for event in response.body["events"]] == ["braze_synced", "braze_status"]
    assert response.body["responses"] == [{"text": "Saved to Braze."}]


def test_lex_parse_reads_interpreted_slot_values_over_session_attributes():
    request = LEX.parse(RawRequest(LEX_SAMPLE, "application/json"))
    parameters = request.conversation["bridge"]["parameters"]

    assert parameters["FirstName"] == "Ana Luíza"
    assert parameters["BirthDate"] == "1990-04-12"
    assert parameters["Interests"] == ["beaches", "museums"]
    assert parameters["full_name"] == " Ana Luíza Souza Araújo "
    assert "Nickname" not in parameters
    assert "braze_synced" not in parameters
    assert request.conversation["bridge"]["language"] == "en-US"
    assert request.session_id == "417093546381829"


def test_lex_turn_is_the_originating_request_with_the_session_and_invocation():
    fulfillment = LEX.parse(RawRequest(LEX_SAMPLE, "application/json"))
    dialog = LEX.parse(
        RawRequest(_edited(LEX_SAMPLE, lambda e: e.update(invocationSource="DialogCodeHook")))
    )
    no_id = LEX.parse(
        RawRequest(_edited(LEX_SAMPLE, lambda e: e["sessionState"].pop("originatingRequestId")))
    )

    assert fulfillment.turn_id == (
        "2d4f1c8e-9a3b-4e7d-b6c5-0f1e2a3b4c5d:417093546381829:FulfillmentCodeHook"
    )
    assert dialog.turn_id != fulfillment.turn_id
    assert no_id.turn_id is None


def test_lex_composite_slots_read_as_objects():
    def composite(event):
        event["sessionState"]["intent"]["slots"] = {"Address": {"shape": "Composite", "subSlots": {
            "City": {"shape": "Scalar", "value": {"interpretedValue": "São Paulo"}},
            "Zip": None}}}  # fmt: skip

    request = LEX.parse(RawRequest(_edited(LEX_SAMPLE, composite), "application/json"))

    assert request.conversation["bridge"]["parameters"]["Address"] == {"City": "São Paulo"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("sessionId"), "sessionId"),
        (lambda e: e.pop("invocationSource"), "invocationSource"),
        (lambda e: e["sessionState"]["intent"].pop("name"), "sessionState.intent.name"),
    ],
)
def test_lex_events_without_their_structure_are_refused_naming_the_field(change, field):
    with pytest.raises(PlatformRequestError, match=field.replace(".", r"\.")):
        LEX.parse(RawRequest(_edited(LEX_SAMPLE, change), "application/json"))


@pytest.mark.parametrize("status", sorted(OUTCOMES))
def test_lex_fulfillment_closes_the_intent_with_string_attributes(status):
    request = LEX.parse(RawRequest(LEX_SAMPLE, "application/json"))

    response = LEX.respond(OUTCOMES[status], request)
    state = response.body["sessionState"]

    assert response.status == 200  # a Lambda error would break the conversation
    assert state["dialogAction"] == {"type": "Close"}
    assert state["intent"]["name"] == "UpdateProfile"
    assert state["intent"]["state"] == ("Fulfilled" if OUTCOMES[status].success else "Failed")
    assert all(isinstance(value, str) for value in state["sessionAttributes"].values())
    assert state["sessionAttributes"]["braze_status"] == status
    assert state["sessionAttributes"]["braze_synced"] == str(OUTCOMES[status].success).lower()
    assert state["sessionAttributes"]["country"] == "BR"  # the session's own attributes stay


def test_lex_dialog_hook_delegates_and_keeps_the_intent_state():
    event = _edited(LEX_SAMPLE, lambda e: e.update(invocationSource="DialogCodeHook"))
    request = LEX.parse(RawRequest(event, "application/json", query={"messages": "1"}))

    response = LEX.respond(OUTCOMES["rejected"], request)

    assert response.body["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert response.body["sessionState"]["intent"]["state"] == "ReadyForFulfillment"
    assert response.body["messages"] == [
        {"contentType": "PlainText", "content": "Not saved: missing email"}
    ]


def test_lex_refusals_with_an_event_still_give_lex_a_response():
    request = LEX.parse(RawRequest(LEX_SAMPLE, "application/json"))

    response = LEX.refuse(429, "rate_limited", "Too many requests", request)

    assert response.status == 429
    assert response.body["sessionState"]["sessionAttributes"]["braze_status"] == "rate_limited"
    assert response.body["sessionState"]["intent"]["state"] == "Failed"
