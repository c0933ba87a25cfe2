"""Each platform's webhook route over real HTTP: its realistic request in, its own answer out, and
the right attributes at the (fake) Braze.

Per platform, the sample request written from its public documentation
(examples/platforms/<platform>/) is posted to a live server; the answer must parse as that
platform's documented response (Google's own types for Dialogflow), and Braze must receive
trimmed names, a lower-case email, a ``YYYY-MM-DD`` birth date from the platform's own date form,
an E.164 phone, numbers as numbers and no ``"null"`` text.
"""

import json

import pytest
import requests
from google.cloud.dialogflow_v2.types import WebhookResponse as EsResponse
from google.cloud.dialogflowcx_v3.types import WebhookResponse as CxResponse

from mappings.management.config_io import create_from_preset
from tests.platform_samples import PLATFORMS, mapping_set_for, post_to_platform
from tests.test_presets import EXPECTED


def _attributes_at_braze(braze) -> list[dict]:
    return braze.accepted_objects("attributes")


def _documented_answer(platform_id: str, response: requests.Response) -> dict:
    """The answer, checked against what the platform documents it reads."""
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    if platform_id == "dialogflow-cx":
        CxResponse.from_json(response.text, ignore_unknown_fields=False)
        return body["sessionInfo"]["parameters"]
    if platform_id == "dialogflow-es":
        EsResponse.from_json(response.text, ignore_unknown_fields=False)
        braze = next(c for c in body["outputContexts"] if c["name"].endswith("/contexts/braze"))
        return braze["parameters"]
    if platform_id == "rasa":
        assert set(body) == {"events", "responses"}
        assert all(event["event"] == "slot" for event in body["events"])
        return {event["name"]: event["value"] for event in body["events"]}
    if platform_id == "lex-v2":
        state = body["sessionState"]
        assert state["dialogAction"]["type"] in ("Close", "Delegate")
        assert state["intent"]["state"] in ("Fulfilled", "Failed", "InProgress")
        attributes = state["sessionAttributes"]
        assert all(isinstance(value, str) for value in attributes.values())
        return attributes
    # Voiceflow, Botpress, Pypestream, Twilio Studio: one flat JSON object
    assert all(not isinstance(value, dict) for value in body.values())
    assert len(response.content) < 64_000
    return body


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda platform: platform.id)
def test_each_platform_sample_reaches_braze_mapped_and_gets_its_own_answer(
    platform, live_server, braze, environment, platform_client
):
    mapping_set = mapping_set_for(platform, environment)
    body, content_type = platform.sample()

    response = post_to_platform(
        live_server, platform.id, mapping_set.slug, body, content_type, platform_client(mapping_set)
    )

    assert response.status_code == 200, response.text
    answer = _documented_answer(platform.id, response)
    synced = answer.get("braze_synced", answer.get("success"))
    assert synced in (True, "true")
    [sent] = _attributes_at_braze(braze)
    for attribute, value in platform.expected.items():
        assert sent[attribute] == value, attribute
    if platform.number:
        assert sent[platform.number[1]] == platform.number[2]
        assert type(sent[platform.number[1]]) is int
    for name in platform.absent:
        assert name.replace("-", "_").lower() not in sent
    assert "null" not in json.dumps(sent)


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda platform: platform.id)
def test_a_mapping_set_made_from_the_platforms_preset_delivers_its_sample_as_braze_wants_it(
    platform, live_server, braze, environment, platform_client
):
    mapping_set = create_from_preset(
        platform.id, slug=f"{platform.id}-preset", environment=environment.name
    )
    body, content_type = platform.sample()

    response = post_to_platform(
        live_server, platform.id, mapping_set.slug, body, content_type, platform_client(mapping_set)
    )

    assert response.status_code == 200, response.text
    identifier, attributes = EXPECTED[platform.id]
    [sent] = braze.accepted_objects("attributes")
    assert {name: sent[name] for name in (*identifier, *attributes)} == {**identifier, **attributes}
    [event] = braze.accepted_objects("events")
    assert event["name"] == "bot_conversation"
    assert "null" not in json.dumps([sent, event])
