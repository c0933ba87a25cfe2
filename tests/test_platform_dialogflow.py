"""Dialogflow CX and ES adapters, checked against Google's own published webhook types.

Google's client libraries define WebhookRequest and WebhookResponse; a strict parse (unknown
fields refused) of the sample requests and of every answer we give proves the shapes.
"""

import json
from pathlib import Path

import pytest
from google.cloud.dialogflow_v2.types import WebhookRequest as EsRequest
from google.cloud.dialogflow_v2.types import WebhookResponse as EsResponse
from google.cloud.dialogflowcx_v3.types import WebhookRequest as CxRequest
from google.cloud.dialogflowcx_v3.types import WebhookResponse as CxResponse

from mappings.platforms.base import Outcome, PlatformRequestError, RawRequest
from mappings.platforms.dialogflow_cx import ADAPTER as CX
from mappings.platforms.dialogflow_es import ADAPTER as ES

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "platforms"
CX_SAMPLE = (SAMPLES / "dialogflow-cx" / "request.json").read_bytes()
ES_SAMPLE = (SAMPLES / "dialogflow-es" / "request.json").read_bytes()
PROBLEM = {"row": "email", "source_path": "bridge.parameters.email", "code": "invalid",
           "reason": "not an email address", "value": "ana@"}  # fmt: skip
OUTCOMES = {
    "delivered": Outcome("delivered", True, "0f1e2d3c", 201, "success"),
    "queued": Outcome("queued", True, "0f1e2d3c", None, "Braze did not answer in time"),
    "accepted": Outcome("accepted", True, "0f1e2d3c"),
    "failed": Outcome("failed", False, "0f1e2d3c", 401, "Invalid API key", message="bad key"),
    "rejected": Outcome("rejected", False, "0f1e2d3c", problems=(PROBLEM,), message="unusable"),
}


def _edited(sample: bytes, change) -> bytes:
    request = json.loads(sample)
    change(request)
    return json.dumps(request).encode()


def test_the_cx_sample_is_a_webhook_request_by_googles_own_types():
    CxRequest.from_json(CX_SAMPLE.decode(), ignore_unknown_fields=False)


def test_cx_parse_keeps_the_request_and_adds_a_bridge_block():
    request = CX.parse(RawRequest(CX_SAMPLE, "application/json"))
    bridge = request.conversation["bridge"]

    assert request.conversation["sessionInfo"]["parameters"]["date-of-birth"] == {
        "year": 1990.0, "month": 4.0, "day": 12.0}  # fmt: skip
    assert bridge["parameters"]["date-of-birth"] == "1990-04-12"
    assert bridge["parameters"]["person"] == "Ana Luíza Souza Araújo"
    assert bridge["parameters"]["given-name"] == "  Ana Luíza "  # trimming is the mapping's job
    assert "city" not in bridge["parameters"]  # null: absent, never sent
    assert bridge["session"] == request.session_id == "wa-5511987654321-20261120"
    assert bridge["text"] == "meu e-mail é Ana.Souza@Example.COM"
    assert bridge["language"] == "pt-br"


def test_cx_turn_is_the_detect_intent_response_id_with_the_webhook_tag():
    first = CX.parse(RawRequest(CX_SAMPLE, "application/json"))
    again = CX.parse(RawRequest(CX_SAMPLE, "application/json"))
    next_turn = CX.parse(
        RawRequest(_edited(CX_SAMPLE, lambda r: r.update(detectIntentResponseId="9d0e1f2a")))
    )

    assert first.turn_id == "8b6d2a7e-4c1f-4e8a-9f62-3d2b1c0e5a91:sync-braze-profile"
    assert again.turn_id == first.turn_id and again.conversation == first.conversation
    assert next_turn.turn_id == "9d0e1f2a:sync-braze-profile"


def test_cx_date_time_objects_read_as_iso_and_odd_dates_stay_objects():
    def dates(request):
        request["sessionInfo"]["parameters"] = {
            "when": {"year": 2026, "month": 11, "day": 20, "hours": 9, "minutes": 5},
            "odd": {"year": 1990.5, "month": 4, "day": 12},
        }

    request = CX.parse(RawRequest(_edited(CX_SAMPLE, dates)))
    parameters = request.conversation["bridge"]["parameters"]

    assert parameters["when"] == "2026-11-20T09:05:00"
    assert parameters["odd"] == {"year": 1990.5, "month": 4, "day": 12}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.pop("detectIntentResponseId"), "detectIntentResponseId"),
        (lambda r: r["sessionInfo"].pop("session"), "sessionInfo.session"),
        (lambda r: r["sessionInfo"].update(parameters=[1]), "sessionInfo.parameters"),
    ],
)
def test_cx_requests_without_their_structure_are_refused_naming_the_field(change, field):
    with pytest.raises(PlatformRequestError, match=field.replace(".", r"\.")):
        CX.parse(RawRequest(_edited(CX_SAMPLE, change), "application/json"))


CX_STATUS = {"delivered": 200, "queued": 200, "accepted": 200, "failed": 502, "rejected": 400}


@pytest.mark.parametrize(("status", "http"), sorted(CX_STATUS.items()))
def test_cx_answers_every_outcome_as_a_webhook_response_with_a_real_status(status, http):
    request = CX.parse(RawRequest(CX_SAMPLE, "application/json", query={"messages": "1"}))

    response = CX.respond(OUTCOMES[status], request)
    parameters = response.body["sessionInfo"]["parameters"]

    CxResponse.from_json(response.content().decode(), ignore_unknown_fields=False)
    assert response.status == http
    assert parameters["braze_status"] == status
    assert parameters["braze_synced"] is OUTCOMES[status].success
    assert parameters["braze_delivery_id"] == "0f1e2d3c"
    assert response.body["fulfillmentResponse"]["messages"][0]["text"]["text"][0]


def test_cx_adds_no_message_for_the_user_unless_asked():
    response = CX.respond(OUTCOMES["delivered"], CX.parse(RawRequest(CX_SAMPLE)))

    assert "fulfillmentResponse" not in response.body


def test_cx_answers_never_exceed_64_kib_however_many_problems():
    problem = {**PROBLEM, "reason": "é" * 400}
    outcome = Outcome("delivered", True, "d-1", 201, problems=(problem,) * 5000)
    request = CX.parse(RawRequest(CX_SAMPLE, query={"messages": "1"}))

    response = CX.respond(outcome, request)
    parameters = response.body["sessionInfo"]["parameters"]

    assert len(response.content()) <= 64 * 1024
    assert 0 < len(parameters["braze_problems"]) < 5000
    assert parameters["braze_problem_count"] == 5000
    assert parameters["braze_synced"] is True
    CxResponse.from_json(response.content().decode(), ignore_unknown_fields=False)


def test_the_es_sample_is_a_webhook_request_by_googles_own_types():
    EsRequest.from_json(ES_SAMPLE.decode(), ignore_unknown_fields=False)


def test_es_parameters_merge_contexts_under_the_intents_own():
    request = ES.parse(RawRequest(ES_SAMPLE, "application/json"))
    parameters = request.conversation["bridge"]["parameters"]

    assert parameters["given-name"] == "  Ana Luíza "  # from the profile context
    assert parameters["date-of-birth"] == "1990-04-12T12:00:00-03:00"
    assert "given-name.original" not in parameters
    assert "no-match" not in parameters  # ES's own __system_counters__
    assert "nickname" not in parameters  # "" is ES's unfilled optional parameter
    assert request.turn_id == "5c1e9d2a-7b4f-4e3a-a8c6-2f9b1d0e7a35-2d6f0b4e"
    assert request.session_id == "7f3a9c21-5b8e-4d2a-9e61-0c4b7d2f8a13"


@pytest.mark.parametrize("field", ["responseId", "session", "queryResult"])
def test_es_requests_without_their_structure_are_refused_naming_the_field(field):
    with pytest.raises(PlatformRequestError, match=field):
        ES.parse(RawRequest(_edited(ES_SAMPLE, lambda r: r.pop(field)), "application/json"))


@pytest.mark.parametrize("status", sorted(OUTCOMES))
def test_es_answers_every_outcome_with_contexts_the_agent_can_branch_on(status):
    request = ES.parse(RawRequest(ES_SAMPLE, "application/json"))
    session = json.loads(ES_SAMPLE)["session"]

    response = ES.respond(OUTCOMES[status], request)
    contexts = {c["name"].rsplit("/", 1)[1]: c for c in response.body["outputContexts"]}

    EsResponse.from_json(response.content().decode(), ignore_unknown_fields=False)
    assert response.status == 200  # ES drops a failed webhook's answer: the contexts say it
    assert contexts["braze"]["name"] == f"{session}/contexts/braze"
    assert contexts["braze"]["parameters"]["braze_status"] == status
    marker, ended = ("braze-synced", "braze-failed")
    if not OUTCOMES[status].success:
        marker, ended = ended, marker
    assert contexts[marker]["lifespanCount"] > 0 and contexts[ended]["lifespanCount"] == 0
    assert "fulfillmentText" not in response.body  # the intent's own responses stay


def test_es_sets_the_fulfillment_text_when_asked():
    request = ES.parse(RawRequest(ES_SAMPLE, "application/json", {"X-Bridge-Messages": "1"}))

    response = ES.respond(OUTCOMES["rejected"], request)

    assert response.body["fulfillmentText"] == "Not saved: unusable"
    EsResponse.from_json(response.content().decode(), ignore_unknown_fields=False)
