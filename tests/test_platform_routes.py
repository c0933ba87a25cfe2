"""Each platform's webhook route over real HTTP: its realistic request in, its own answer out, and
the right attributes at the (fake) Braze.

Per platform, the sample request written from its public documentation
(examples/platforms/<platform>/) is posted to a live server; the answer must parse as that
platform's documented response (Google's own types for Dialogflow), and Braze must receive
trimmed names, a lower-case email, a ``YYYY-MM-DD`` birth date from the platform's own date form,
an E.164 phone, numbers as numbers and no ``"null"`` text.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from google.cloud.dialogflow_v2.types import WebhookResponse as EsResponse
from google.cloud.dialogflowcx_v3.types import WebhookResponse as CxResponse

from mappings.models import FieldMapping, MappingSet

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "platforms"
TIMEOUT = 15


@dataclass(frozen=True)
class Platform:
    """One platform's sample and the mapping rows that read its parameter names."""

    id: str
    first_name: str
    email: str
    dob: tuple[str, list]
    phone: tuple[str, str]
    number: tuple[str, str, int] | None = None  # parameter, attribute, expected value
    absent: tuple[str, ...] = ()  # parameters holding null / "null" / "": never sent
    expected: dict = field(default_factory=dict)  # attribute -> value at Braze

    def sample(self) -> tuple[bytes, str]:
        if self.id == "twilio-studio":
            body = (SAMPLES / self.id / "request.txt").read_bytes().strip()
            return body, "application/x-www-form-urlencoded"
        return (SAMPLES / self.id / "request.json").read_bytes(), "application/json"


PLATFORMS = [
    Platform("dialogflow-cx", "given-name", "email", ("date-of-birth", ["dob"]),
             ("phone", "BR"), ("trips-per-year", "trips_per_year", 3), ("city",),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("dialogflow-es", "given-name", "email", ("date-of-birth", ["dob"]),
             ("phone-number", "BR"), None, ("nickname",),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("rasa", "first_name", "email", ("date_of_birth", ["dob"]), ("phone", "PT"),
             ("party_size", "party_size", 4), ("favourite_city",),
             {"first_name": "Inês", "email": "ines.ferreira@example.pt",
              "dob": "1990-04-12", "phone": "+351912345678"}),
    Platform("voiceflow", "name", "email", ("birthday", ["dob"]), ("phone", "JP"),
             ("trips_booked", "trips_booked", 3), ("nickname", "company"),
             {"first_name": "Kenji  Tanaka", "email": "kenji.tanaka@example.jp",
              "dob": "1988-03-03", "phone": "+819012345678"}),
    Platform("botpress", "firstName", "email", ("birthDate", [{"name": "dob", "order": "DMY"}]),
             ("phone", "ES"), ("tripsPerYear", "trips_per_year", 2), ("notes",),
             {"first_name": "Lucía", "email": "lucia.fernandez@example.es",
              "dob": "1985-11-07", "phone": "+34612345678"}),
    Platform("pypestream", "first_name", "email",
             ("date_of_birth", [{"name": "dob", "order": "DMY"}]), ("phone", "BR"), None, (),
             {"first_name": "Ana", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("twilio-studio", "first_name", "email",
             ("date_of_birth", [{"name": "dob", "order": "DMY"}]), ("phone", "GB"), None,
             ("company",),
             {"first_name": "Siân", "email": "sian.obrien@example.co.uk",
              "dob": "1992-02-29", "phone": "+447911123456"}),
    Platform("lex-v2", "FirstName", "Email", ("BirthDate", ["dob"]), ("Phone", "BR"), None, (),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
]  # fmt: skip
BY_ID = {platform.id: platform for platform in PLATFORMS}


def _parameter(name: str) -> str:
    return f'bridge.parameters."{name}"'


def _mapping_set_for(platform: Platform, environment, slug: str | None = None) -> MappingSet:
    mapping_set = MappingSet.objects.create(
        slug=slug or f"{platform.id}-bot", name=f"{platform.id} bot", environment=environment,
        identifier_source_path="bridge.session",
    )  # fmt: skip
    rows = [
        (platform.first_name, "first_name", ["trim"]),
        (platform.email, "email", ["trim", "lower"]),
        (platform.dob[0], "dob", platform.dob[1]),
        (platform.phone[0], "phone", [{"name": "phone", "region": platform.phone[1]}]),
        *[(name, name.replace("-", "_").lower(), ["trim"]) for name in platform.absent],
    ]
    if platform.number:
        rows.append((platform.number[0], platform.number[1], ["int"]))
    for position, (source, target, transforms) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=_parameter(source),
            target_attribute=target, transforms=transforms,
        )  # fmt: skip
    return mapping_set


def _post(live_server, platform_id, slug, body, content_type, token, **options):
    url = f"{live_server.url}/api/v1/platforms/{platform_id}/{slug}/"
    headers = {"Content-Type": content_type, **options.pop("headers", {})}
    auth = options.pop("auth", None)
    if auth is None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, data=body, headers=headers, auth=auth, timeout=TIMEOUT, **options)


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
    mapping_set = _mapping_set_for(platform, environment)
    body, content_type = platform.sample()

    response = _post(live_server, platform.id, mapping_set.slug, body, content_type,
                     platform_client(mapping_set))  # fmt: skip

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
