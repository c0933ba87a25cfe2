"""Each platform's preset maps that platform's sample request cleanly, as Braze wants it.

The sample (examples/platforms/<platform>/) goes through the platform adapter's parse() and the
mapping engine with the preset, exactly as a live request to /api/v1/platforms/<platform>/<slug>/
would; no database is involved.
"""

import json
import re
from datetime import UTC, datetime

import pytest

from mappings.engine.mapping import build_payload
from mappings.management.config_io import spec_from_document
from mappings.platforms import ADAPTERS
from mappings.presets import UnknownPreset, mapping_set_document, platforms, preset
from tests.test_platform_adapters import _sample

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# What Braze gets from each sample: the identifier, then the standard attributes.
EXPECTED = {
    "dialogflow-cx": (
        {"external_id": "acme-4821"},
        {"first_name": "Ana Luíza", "last_name": "Souza Araújo", "email": "ana.souza@example.com",
         "phone": "+5511987654321", "dob": "1990-04-12", "country": "BR", "language": "pt",
         "marketing_opt_in": True},
    ),
    "dialogflow-es": (
        {"external_id": "acme-4821"},
        {"first_name": "Ana Luíza", "last_name": "Souza Araújo", "email": "ana.souza@example.com",
         "phone": "+5511987654321", "dob": "1990-04-12", "country": "BR", "home_city": "São Paulo",
         "language": "pt"},
    ),
    "rasa": (
        {"user_alias": {"alias_name": "whatsapp:+351912345678", "alias_label": "rasa_sender_id"}},
        {"first_name": "Inês", "last_name": "Gonçalves Ferreira", "phone": "+351912345678",
         "email": "ines.ferreira@example.pt", "dob": "1990-04-12", "country": "PT",
         "marketing_opt_in": True},
    ),
    "voiceflow": (
        {"user_alias": {"alias_name": "6641f0c2a9e3b7d10012ab34",
                        "alias_label": "voiceflow_user_id"}},
        {"first_name": "Kenji", "last_name": "Tanaka", "email": "kenji.tanaka@example.jp",
         "phone": "+819012345678", "dob": "1988-03-03", "country": "JP", "language": "en",
         "marketing_opt_in": True},
    ),
    "botpress": (
        {"user_alias": {"alias_name": "user_01JD8PYT2B4D6F8H0K3M5P7R9T",
                        "alias_label": "botpress_user_id"}},
        {"first_name": "Lucía", "email": "lucia.fernandez@example.es", "phone": "+34612345678",
         "dob": "1985-11-07", "country": "ES", "language": "es", "marketing_opt_in": True},
    ),
    "pypestream": (
        {"external_id": "acme-4821"},
        {"first_name": "Ana", "last_name": "Souza", "email": "ana.souza@example.com",
         "phone": "+5511987654321", "dob": "1990-04-12", "country": "BR", "home_city": "São Paulo",
         "language": "pt", "marketing_opt_in": True},
    ),
    "twilio-studio": (
        {"phone": "+447911123456"},
        {"first_name": "Siân", "last_name": "O'Brien-Jones", "email": "sian.obrien@example.co.uk",
         "dob": "1992-02-29", "country": "GB", "marketing_opt_in": True},
    ),
    "lex-v2": (
        {"external_id": "acme-4821"},
        {"first_name": "Ana Luíza", "email": "ana.souza@example.com", "phone": "+5511987654321",
         "dob": "1990-04-12", "country": "BR", "language": "en"},
    ),
}  # fmt: skip


def preset_result(platform: str):
    spec, problems = spec_from_document(
        mapping_set_document(platform, slug="s", environment="e"), "preset"
    )
    assert problems == []
    conversation = ADAPTERS[platform].parse(_sample(platform)).conversation
    return build_payload(spec, conversation, now=NOW), conversation


def strings_in(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, str):
        yield value


def test_there_is_one_preset_per_platform_route():
    assert platforms() == sorted(ADAPTERS) == sorted(EXPECTED)
    assert all(preset(platform).platform == platform for platform in platforms())


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_each_preset_maps_its_platforms_sample_without_a_problem(platform):
    result, _ = preset_result(platform)
    identifier, attributes = EXPECTED[platform]
    sent = result.payload["attributes"][0]

    assert result.ok and result.problems == []
    alias_flag = {"_update_existing_only": False} if "user_alias" in identifier else {}
    assert sent == {**identifier, **alias_flag, **attributes}


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_each_preset_sends_braze_formats_and_never_a_null(platform):
    result, _ = preset_result(platform)
    sent = result.payload["attributes"][0]
    body = json.dumps(result.payload)

    assert sent["email"] == sent["email"].strip().lower()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", sent["dob"])
    assert E164.match(sent["phone"])  # Twilio's is its identifier
    assert all(s.strip() == s for s in strings_in(sent) if s)
    assert "null" not in [s.lower() for s in strings_in(result.payload)] and "null" not in body
    assert not any(isinstance(value, str) and value in ("true", "false") for value in sent.values())


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_each_preset_sends_one_conversation_event_naming_the_platform(platform):
    result, conversation = preset_result(platform)
    (event,) = result.payload["events"]

    assert event["name"] == "bot_conversation"
    assert event["properties"]["platform"] == platform
    assert event["time"] == "2026-11-20T10:15:00Z"
    if conversation["bridge"]["session"] and platform != "twilio-studio":
        assert event["properties"]["session"] == conversation["bridge"]["session"]


def test_voiceflows_unset_markers_are_never_sent():
    result, conversation = preset_result("voiceflow")

    assert conversation["city"] == "0" and conversation["nickname"] == "null"
    assert "home_city" not in result.payload["attributes"][0]


def test_a_cx_preset_reads_the_raw_sys_date_object():
    result, conversation = preset_result("dialogflow-cx")

    assert conversation["sessionInfo"]["parameters"]["date-of-birth"]["year"] == 1990.0
    assert result.payload["attributes"][0]["dob"] == "1990-04-12"


def test_an_unknown_platform_names_the_known_ones():
    with pytest.raises(UnknownPreset, match="known: botpress, dialogflow-cx"):
        preset("dialogflow")


def test_a_document_from_a_preset_is_a_copy_the_caller_may_change():
    first = mapping_set_document("rasa", slug="a", environment="e", name="Mine")
    first["rows"].clear()

    again = mapping_set_document("rasa", slug="b", environment="e")
    assert first["name"] == "Mine" and again["name"] == "Rasa bot" and again["rows"]
