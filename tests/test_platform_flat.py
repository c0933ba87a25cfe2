"""Voiceflow, Botpress, Pypestream and Twilio Studio: bodies the bot writes, flat answers."""

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from mappings.platforms.base import Outcome, PlatformRequestError, RawRequest
from mappings.platforms.botpress import ADAPTER as BOTPRESS
from mappings.platforms.pypestream import ADAPTER as PYPESTREAM
from mappings.platforms.twilio_studio import ADAPTER as TWILIO
from mappings.platforms.voiceflow import ADAPTER as VOICEFLOW

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "platforms"
FORM = "application/x-www-form-urlencoded"
PROBLEM = {"row": "phone", "source_path": "bridge.parameters.phone", "reason": "not a phone"}
OUTCOMES = {
    "delivered": Outcome("delivered", True, "0f1e2d3c", 201, "success"),
    "queued": Outcome("queued", True, "0f1e2d3c"),
    "accepted": Outcome("accepted", True, "0f1e2d3c"),
    "failed": Outcome("failed", False, "0f1e2d3c", 400, "Invalid API key"),
    "rejected": Outcome(
        "rejected", False, "0f1e2d3c", problems=(PROBLEM,), missing=("email",), message="no email"
    ),
}
HTTP = {"delivered": 200, "queued": 200, "accepted": 200, "failed": 502, "rejected": 422}
FLAT = [VOICEFLOW, BOTPRESS, PYPESTREAM, TWILIO]


def _sample(platform: str, name: str = "request.json") -> bytes:
    return (SAMPLES / platform / name).read_bytes()


def test_voiceflow_keeps_its_strings_but_leaves_unset_values_out_of_the_parameters():
    request = VOICEFLOW.parse(RawRequest(_sample("voiceflow"), "application/json"))
    parameters = request.conversation["bridge"]["parameters"]

    assert request.conversation["nickname"] == "null"  # the raw part stays as sent
    assert "nickname" not in parameters and "company" not in parameters
    assert parameters["opt_in"] == "true"
    assert parameters["trips_booked"] == "3"
    assert parameters["loyalty_points"] == "0"  # a real zero and an unset 0 look alike: kept
    assert "last_utterance" not in parameters and "turn_id" not in parameters
    assert request.conversation["bridge"]["text"] == "it's Kenji.Tanaka@Example.JP"
    assert request.conversation["bridge"]["language"] == "en-US"
    assert request.session_id == "6641f0c2a9e3b7d10012ab34"


def test_voiceflow_variables_object_and_url_encoded_bodies_are_read_too():
    nested = VOICEFLOW.parse(RawRequest(b'{"variables": {"email": "a@b.co", "age": "undefined"}}'))
    form = VOICEFLOW.parse(RawRequest(b"email=a%40b.co&age=null&user_id=u-1", FORM))

    assert nested.conversation["bridge"]["parameters"] == {"email": "a@b.co"}
    assert form.conversation["bridge"]["parameters"] == {"email": "a@b.co", "user_id": "u-1"}
    assert form.session_id == "u-1"


def test_botpress_parameters_are_the_users_overlaid_by_the_workflows():
    request = BOTPRESS.parse(RawRequest(_sample("botpress"), "application/json"))
    parameters = request.conversation["bridge"]["parameters"]

    assert parameters["firstName"] == " Lucía " and parameters["plan"] == "gold"
    assert parameters["fullName"] == "Lucía  Fernández García "
    assert parameters["tripsPerYear"] == 2
    assert "notes" not in parameters
    assert request.turn_id == "evt_01JD8Q4X7M2N5P9R3T6V8W0YZC"
    assert request.session_id == "conv_01JD8PZ3K5H7J9L2N4Q6S8U0WX"


def test_pypestream_reads_its_variables_and_session():
    request = PYPESTREAM.parse(RawRequest(_sample("pypestream"), "application/json"))

    assert request.conversation["bridge"]["parameters"]["email"] == " Ana.Souza@Example.com "
    assert request.conversation["session"]["channel"] == "web"
    assert request.session_id == "ps-7f3a9c21"
    assert request.turn_id == "ps-7f3a9c21-node-collect-profile-3"


def test_pypestream_session_falls_back_to_the_session_object():
    request = PYPESTREAM.parse(RawRequest(b'{"session": {"id": "ps-1"}, "email": "a@b.co"}'))

    assert request.session_id == "ps-1"
    assert request.conversation["bridge"]["parameters"]["email"] == "a@b.co"


def test_twilio_reads_the_default_form_encoded_body():
    request = TWILIO.parse(
        RawRequest(_sample("twilio-studio", "request.txt"), FORM + "; charset=UTF-8")
    )
    bridge = request.conversation["bridge"]

    assert bridge["parameters"]["first_name"] == " Siân "
    assert bridge["parameters"]["date_of_birth"] == "29/02/1992"
    assert "company" not in bridge["parameters"]  # an empty form field is not a value
    assert "Body" not in bridge["parameters"]
    assert bridge["text"] == "my email is Sian.OBrien@Example.CO.UK"
    assert request.session_id == "+447911123456"
    assert request.turn_id.startswith("FN6a1b2c3d")


def test_twilio_json_bodies_give_the_same_parameters_as_the_form():
    form = _sample("twilio-studio", "request.txt")
    as_json = json.dumps(dict(parse_qsl(form.decode(), keep_blank_values=True))).encode()

    from_form = TWILIO.parse(RawRequest(form, FORM))
    from_json = TWILIO.parse(RawRequest(as_json, "application/json"))

    assert from_json.conversation["bridge"] == from_form.conversation["bridge"]


def test_the_turn_header_wins_over_the_body_field():
    request = TWILIO.parse(
        RawRequest(b"turn_id=body-1&email=a%40b.co", FORM, {"x-turn-id": "hdr-1"})
    )

    assert request.turn_id == "hdr-1"


def test_without_a_turn_id_there_is_no_turn():
    assert BOTPRESS.parse(RawRequest(b'{"email": "a@b.co"}', "application/json")).turn_id is None


@pytest.mark.parametrize("adapter", FLAT, ids=lambda a: a.platform_id)
def test_malformed_bodies_are_refused_with_a_clear_message(adapter):
    with pytest.raises(PlatformRequestError, match="not valid JSON"):
        adapter.parse(RawRequest(b'{"email": ', "application/json"))
    with pytest.raises(PlatformRequestError, match="must be a JSON object"):
        adapter.parse(RawRequest(b'"just text"', "application/json"))


def test_multipart_bodies_are_refused_naming_the_types_we_read():
    with pytest.raises(PlatformRequestError, match="application/x-www-form-urlencoded"):
        VOICEFLOW.parse(RawRequest(b"--b\r\n", "multipart/form-data; boundary=b"))


@pytest.mark.parametrize("adapter", FLAT, ids=lambda a: a.platform_id)
@pytest.mark.parametrize("status", sorted(OUTCOMES))
def test_every_outcome_is_a_flat_answer_with_a_status_the_flow_can_branch_on(adapter, status):
    request = adapter.parse(RawRequest(b'{"turn_id": "t-1"}', "application/json"))

    response = adapter.respond(OUTCOMES[status], request)

    assert response.status == HTTP[status]
    assert response.body["success"] is OUTCOMES[status].success
    assert response.body["status"] == status
    assert response.body["delivery_id"] == "0f1e2d3c"
    assert all(not isinstance(value, dict | list) for value in response.body.values())
    assert len(response.content()) < 64_000


def test_a_flat_answer_leaves_out_what_it_does_not_know():
    request = VOICEFLOW.parse(RawRequest(b"{}", "application/json"))

    body = VOICEFLOW.respond(OUTCOMES["queued"], request).body

    assert "braze_status" not in body  # a null would overwrite the flow's variable


def test_a_rejection_lists_the_problems_and_missing_fields_as_text():
    request = TWILIO.parse(RawRequest(b"", FORM))

    body = TWILIO.respond(OUTCOMES["rejected"], request).body

    assert body["problems"] == "phone (bridge.parameters.phone): not a phone"
    assert body["missing"] == "email"
    assert body["problem_count"] == 1


@pytest.mark.parametrize(
    ("query", "headers"),
    [({"success_format": "string"}, {}), ({}, {"X-Bridge-Success-Format": "string"})],
)
def test_pypestream_answers_true_or_error_strings_when_asked(query, headers):
    request = PYPESTREAM.parse(
        RawRequest(_sample("pypestream"), "application/json", headers, query)
    )

    assert PYPESTREAM.respond(OUTCOMES["delivered"], request).body["success"] == "true"
    assert PYPESTREAM.respond(OUTCOMES["failed"], request).body["success"] == "error"
    assert PYPESTREAM.refuse(401, "invalid_token", "Bad token", request).body["success"] == "error"


def test_only_pypestream_takes_the_string_success_option():
    request = BOTPRESS.parse(
        RawRequest(b"{}", "application/json", query={"success_format": "string"})
    )

    assert BOTPRESS.respond(OUTCOMES["delivered"], request).body["success"] is True


def test_a_refusal_is_flat_with_the_status_given():
    response = VOICEFLOW.refuse(429, "rate_limited", "Too many requests")

    assert response.status == 429
    assert response.body == {
        "success": False, "status": "error", "error_code": "rate_limited",
        "message": "Too many requests"}  # fmt: skip
