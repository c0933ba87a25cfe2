"""Every platform adapter keeps the same promises: registered, pure, within its platform's clock.

Per platform: its sample request (examples/platforms/<id>/) parses the same way every time into
a conversation with a bridge block, and every outcome gets a JSON answer. The platform-specific
shapes are tested beside this file (test_platform_dialogflow, _rasa_lex, _flat).
"""

import ast
import json
import sys
from pathlib import Path

import pytest

from mappings.platforms import ADAPTERS
from mappings.platforms.base import (
    ANSWER_MARGIN_SECONDS,
    FORM,
    HUMAN_WAIT_CEILING_SECONDS,
    JSON,
    OUTCOME_STATUSES,
    Adapter,
    Outcome,
    PlatformRequestError,
    RawRequest,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "platforms"
# Each platform's own deadline in seconds, as docs/platforms.md cites it (None: none published).
DEADLINES = {
    "dialogflow-cx": 5, "dialogflow-es": 5, "rasa": 300, "voiceflow": 20, "botpress": 60,
    "pypestream": None, "twilio-studio": 10, "lex-v2": None,
}  # fmt: skip
FORM_SAMPLES = {"twilio-studio"}


def _sample(platform: str, **query: str) -> RawRequest:
    if platform in FORM_SAMPLES:
        return RawRequest((SAMPLES / platform / "request.txt").read_bytes(), FORM, query=query)
    return RawRequest((SAMPLES / platform / "request.json").read_bytes(), JSON, query=query)


def _outcome(status: str) -> Outcome:
    success = status in ("delivered", "queued", "accepted")
    return Outcome(status, success, "0f1e2d3c", 201 if success else None, message="because")


def test_every_platform_of_the_issue_has_an_adapter_under_its_id():
    assert set(ADAPTERS) == set(DEADLINES)
    for platform_id, adapter in ADAPTERS.items():
        assert isinstance(adapter, Adapter)
        assert adapter.platform_id == platform_id


@pytest.mark.parametrize("platform_id", sorted(DEADLINES))
def test_each_budget_stays_under_the_platforms_deadline_and_a_persons_patience(platform_id):
    budget = ADAPTERS[platform_id].default_budget_seconds
    deadline = DEADLINES[platform_id]

    assert 0 < budget <= HUMAN_WAIT_CEILING_SECONDS
    if deadline is not None:
        assert budget <= deadline * 0.9  # a tenth of the deadline left for the network


@pytest.mark.parametrize(
    ("platform_id", "answered_by"),
    [("dialogflow-cx", 4.5), ("dialogflow-es", 4.5), ("twilio-studio", 9.0)],
)
def test_the_answer_leaves_by_the_time_the_issue_sets_budget_and_margin_included(
    platform_id, answered_by
):
    # After the budget the route still records the outcome and answers: the margin covers it
    # (tests/test_platform_route_behaviour.py times a CX call against a slow Braze).
    assert ADAPTERS[platform_id].default_budget_seconds + ANSWER_MARGIN_SECONDS <= answered_by


@pytest.mark.parametrize("platform_id", sorted(DEADLINES))
def test_each_sample_parses_to_the_same_conversation_with_a_bridge_block(platform_id):
    adapter = ADAPTERS[platform_id]
    raw = _sample(platform_id)

    first = adapter.parse(raw)
    again = adapter.parse(raw)
    bridge = first.conversation["bridge"]

    assert again == first  # same bytes, same turn: the ingest compares repeats
    assert bridge["platform"] == platform_id
    assert bridge["turn_id"] == first.turn_id and isinstance(first.turn_id, str)
    assert bridge["session"] == first.session_id and first.session_id
    assert bridge["parameters"]
    assert not [value for value in bridge["parameters"].values() if value in (None, "", "null")]
    json.dumps(first.conversation)  # plain JSON data, as the outbox stores it


@pytest.mark.parametrize("platform_id", sorted(DEADLINES))
@pytest.mark.parametrize("status", OUTCOME_STATUSES)
def test_each_outcome_gets_a_json_answer(platform_id, status):
    adapter = ADAPTERS[platform_id]
    request = adapter.parse(_sample(platform_id, messages="1"))

    response = adapter.respond(_outcome(status), request)

    assert response.content_type == "application/json"
    assert json.loads(response.content()) == response.body
    assert 200 <= response.status < 600
    assert len(response.content()) <= 64_000


@pytest.mark.parametrize("platform_id", sorted(DEADLINES))
def test_each_refuses_malformed_json_with_a_clear_message(platform_id):
    with pytest.raises(PlatformRequestError, match="not valid JSON"):
        ADAPTERS[platform_id].parse(RawRequest(b'{"broken": ', "application/json"))


@pytest.mark.parametrize("platform_id", sorted(DEADLINES))
def test_each_refusal_keeps_the_status_the_api_chose(platform_id):
    adapter = ADAPTERS[platform_id]
    request = adapter.parse(_sample(platform_id))

    for given in (None, request):
        response = adapter.refuse(503, "service_unavailable", "Try again shortly", given)
        assert response.status == 503
        assert json.loads(response.content()) == response.body


def test_the_platforms_import_only_the_standard_library_and_the_engine():
    allowed = set(sys.stdlib_module_names) | {"mappings"}
    app_allowed = ("mappings.platforms", "mappings.engine")
    strays = []
    for path in sorted((ROOT / "mappings" / "platforms").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] not in allowed or (
                    name.startswith("mappings") and not name.startswith(app_allowed)
                ):
                    strays.append(f"{path.name} imports {name}")
    assert strays == []
