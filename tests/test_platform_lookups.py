"""Each platform's lookup route over real HTTP: its sample request in, the user's Braze profile
fields out as that platform's own parameters.

Per platform, the sample (examples/platforms/<platform>/) is first posted to the write route,
which puts its first name and birth date in the fake Braze's profile of the session's user; the
same sample posted to ``.../lookup/`` must then answer those fields under the read rows' names,
in the shape the platform reads (Google's own types for Dialogflow).
"""

import pytest
import requests
from google.cloud.dialogflow_v2.types import WebhookResponse as EsResponse
from google.cloud.dialogflowcx_v3.types import WebhookResponse as CxResponse

from mappings.models import Lookup, LookupField
from tests.platform_samples import PLATFORMS, TIMEOUT, mapping_set_for, post_to_platform


def _names(platform_id: str) -> tuple[str, str]:
    # Rasa answers only the slots its domain declares; the sample declares these two.
    if platform_id == "rasa":
        return "first_name", "date_of_birth"
    return "profile_first_name", "profile_birth_date"


def _parameters(platform_id: str, response: requests.Response) -> dict:
    """The fields as the platform reads them, checked against its documented shape."""
    body = response.json()
    if platform_id == "dialogflow-cx":
        CxResponse.from_json(response.text, ignore_unknown_fields=False)
        return body["sessionInfo"]["parameters"]
    if platform_id == "dialogflow-es":
        EsResponse.from_json(response.text, ignore_unknown_fields=False)
        [context] = body["outputContexts"]
        assert context["name"].endswith("/contexts/braze-profile")
        return context["parameters"]
    if platform_id == "rasa":
        assert set(body) == {"events", "responses"}
        assert all(event["event"] == "slot" for event in body["events"])
        return {event["name"]: event["value"] for event in body["events"]}
    if platform_id == "lex-v2":
        state = body["sessionState"]
        assert state["dialogAction"]["type"] == "Delegate"
        assert all(isinstance(value, str) for value in state["sessionAttributes"].values())
        return state["sessionAttributes"]
    assert all(not isinstance(value, dict | list) for value in body.values())
    return body


def _post_lookup(live_server, platform_id, slug, body, content_type, token):
    return requests.post(
        f"{live_server.url}/api/v1/platforms/{platform_id}/{slug}/lookup/", data=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )  # fmt: skip


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda platform: platform.id)
def test_each_platform_gets_its_users_profile_fields_as_its_own_parameters(
    platform, live_server, braze, environment, platform_client
):
    mapping_set = mapping_set_for(platform, environment)
    token = platform_client(mapping_set)
    body, content_type = platform.sample()
    written = post_to_platform(live_server, platform.id, mapping_set.slug, body, content_type,
                               token)  # fmt: skip
    assert written.status_code == 200, written.text
    first_name, birth_date = _names(platform.id)
    LookupField.objects.create(mapping_set=mapping_set, braze_field="first_name",
                               bot_name=first_name)  # fmt: skip
    LookupField.objects.create(mapping_set=mapping_set, position=1, braze_field="dob",
                               bot_name=birth_date)  # fmt: skip

    response = _post_lookup(live_server, platform.id, mapping_set.slug, body, content_type, token)

    assert response.status_code == 200, response.text
    parameters = _parameters(platform.id, response)
    assert parameters[first_name] == platform.expected["first_name"]
    assert parameters[birth_date] == platform.expected["dob"]
    if platform.id != "rasa":  # not a slot the sample's domain declares
        assert parameters["braze_lookup_status"] == "found"
    assert Lookup.objects.get().platform == platform.id


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda platform: platform.id)
def test_a_bad_token_on_a_lookup_is_refused_in_the_platforms_dialect(
    platform, live_server, braze, environment
):
    mapping_set = mapping_set_for(platform, environment)
    body, content_type = platform.sample()

    response = _post_lookup(live_server, platform.id, mapping_set.slug, body, content_type,
                            "bzb_not-a-token")  # fmt: skip

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    if platform.id == "rasa":
        assert set(response.json()) == {"action_name", "error"}
    assert not Lookup.objects.exists()
