"""The client examples in examples/platforms/ work against a running server, over real HTTP."""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.platform_samples import BY_ID, mapping_set_for

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ROOT / "examples" / "platforms"
NODE = PLATFORMS / "pypestream" / "action_node.py"

pytestmark = pytest.mark.django_db(transaction=True)


def _run_node(live_server, token: str, slug: str, sample: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BRIDGE_URL": live_server.url, "BRIDGE_TOKEN": token, "BRIDGE_SLUG": slug}
    return subprocess.run(
        [sys.executable, str(NODE), str(sample)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_pypestream_action_node_delivers_the_sample(live_server, braze, api_token, tmp_path):
    sample = tmp_path / "conversation.json"
    sample.write_text(
        '{"user": {"id": "u-9", "profile": {"email": "kai@example.com", "first_name": "Kai"}}}'
    )

    result = _run_node(live_server, api_token, "support-bot", sample)

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"success": true' in result.stdout
    assert braze.received[0].body["attributes"][0]["external_id"] == "u-9"


def test_the_pypestream_action_node_sends_the_platform_sample_to_its_route(
    live_server, braze, environment, platform_client
):
    mapping_set = mapping_set_for(BY_ID["pypestream"], environment)
    token = platform_client(mapping_set)
    sample = PLATFORMS / "pypestream" / "request.json"

    result = _run_node(live_server, token, mapping_set.slug, sample)

    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "delivered"
    [sent] = braze.accepted_objects("attributes")
    assert sent["email"] == "ana.souza@example.com"
    assert sent["dob"] == "1990-04-12"


def test_the_pypestream_action_node_reports_failure_with_a_bad_token(live_server, braze, tmp_path):
    sample = tmp_path / "conversation.json"
    sample.write_text('{"user": {"id": "u-9"}}')

    result = _run_node(live_server, "bzb_wrong", "support-bot", sample)

    assert result.returncode == 1
    assert '"invalid_token"' in result.stdout
    assert braze.received == []


# Amazon Lex V2: the forwarding Lambda, called as Lambda calls it, with Lex's sample event.


def _lambda():
    spec = importlib.util.spec_from_file_location(
        "lex_forwarder", PLATFORMS / "lex-v2" / "lambda_function.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The one method of AWS's context object the handler reads: there is no Lambda here."""

    def __init__(self, seconds_left: float):
        self.deadline = time.monotonic() + seconds_left

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def _lex_event() -> dict:
    return json.loads((PLATFORMS / "lex-v2" / "request.json").read_text())


@pytest.fixture
def lex_route(live_server, environment, platform_client, monkeypatch):
    mapping_set = mapping_set_for(BY_ID["lex-v2"], environment)
    route = f"{live_server.url}/api/v1/platforms/lex-v2/{mapping_set.slug}/"
    monkeypatch.setenv("BRIDGE_URL", route)
    monkeypatch.setenv("BRIDGE_TOKEN", platform_client(mapping_set))


def test_the_lex_lambda_delivers_the_event_and_returns_the_bridges_lex_response(lex_route, braze):
    answer = _lambda().lambda_handler(_lex_event(), LambdaContext(10))

    state = answer["sessionState"]
    assert state["dialogAction"] == {"type": "Close"}
    assert state["intent"]["name"] == "UpdateProfile"
    assert state["intent"]["state"] == "Fulfilled"
    assert state["sessionAttributes"]["braze_synced"] == "true"
    assert state["sessionAttributes"]["full_name"] == " Ana Luíza Souza Araújo "
    [sent] = braze.accepted_objects("attributes")
    assert sent["email"] == "ana.souza@example.com"
    assert sent["dob"] == "1990-04-12"


def test_the_lex_lambda_answers_failed_when_the_bridge_is_unreachable(monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BRIDGE_URL", f"http://127.0.0.1:{port}/api/v1/platforms/lex-v2/x/")
    monkeypatch.setenv("BRIDGE_TOKEN", "bzb_any")

    answer = _lambda().lambda_handler(_lex_event(), LambdaContext(10))

    state = answer["sessionState"]
    assert state["dialogAction"] == {"type": "Close"}
    assert state["intent"]["state"] == "Failed"
    assert state["intent"]["name"] == "UpdateProfile"
    assert state["sessionAttributes"]["braze_synced"] == "false"
    assert state["sessionAttributes"]["braze_status"] == "bridge_unreachable"
    assert state["sessionAttributes"]["country"] == "BR"


def test_the_lex_lambda_gives_up_on_a_silent_bridge_before_the_lambda_times_out(monkeypatch):
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/v1/platforms/lex-v2/x/"
        monkeypatch.setenv("BRIDGE_URL", url)
        monkeypatch.setenv("BRIDGE_TOKEN", "bzb_any")
        started = time.monotonic()

        answer = _lambda().lambda_handler(_lex_event(), LambdaContext(1.5))

    assert time.monotonic() - started < 1.5
    assert answer["sessionState"]["intent"]["state"] == "Failed"
    assert answer["sessionState"]["sessionAttributes"]["braze_status"] == "bridge_unreachable"


def test_the_lex_lambda_answers_failed_when_the_bridge_refuses_its_token(
    lex_route, braze, monkeypatch
):
    monkeypatch.setenv("BRIDGE_TOKEN", "bzb_wrong")

    answer = _lambda().lambda_handler(_lex_event(), LambdaContext(10))

    # The route refuses in Lex's own shape, which the Lambda passes on as it is.
    assert answer["sessionState"]["intent"]["state"] == "Failed"
    assert answer["sessionState"]["sessionAttributes"]["braze_status"] == "invalid_token"
    assert braze.received == []


def test_the_lex_lambda_delegates_after_a_dialog_hook_when_the_bridge_is_unreachable(monkeypatch):
    monkeypatch.setenv("BRIDGE_URL", "http://127.0.0.1:9/api/v1/platforms/lex-v2/x/")
    monkeypatch.setenv("BRIDGE_TOKEN", "bzb_any")
    event = {**_lex_event(), "invocationSource": "DialogCodeHook"}

    answer = _lambda().lambda_handler(event, LambdaContext(10))

    assert answer["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert answer["sessionState"]["intent"]["state"] == "ReadyForFulfillment"


# Botpress: the Execute Code card, run by Node.js as the card runs it: the body of an async
# function given axios, event, user, workflow and env. The axios stand-in is the part of axios
# the card uses (post, a timeout, rejecting a non-2xx answer with error.response), over fetch.
CARD_RUNNER = """
const fs = require('fs');
const [card, url, token] = process.argv.slice(1);
const axios = {
  async post(target, data, config) {
    const response = await fetch(target, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', ...config.headers},
      body: JSON.stringify(data),
      signal: AbortSignal.timeout(config.timeout),
    });
    const answer = {status: response.status, data: await response.json()};
    if (response.status >= 300) {
      throw Object.assign(new Error(`Request failed with status ${response.status}`),
                          {response: answer});
    }
    return answer;
  },
};
const event = {id: 'evt_01JD8Q4X7M2N5P9R3T6V8W0YZC', conversationId: 'conv_01JD8PZ3',
               userId: 'user_01JD8PYT', preview: 'mi correo es Lucia.Fernandez@Example.ES'};
const user = {language: 'es', firstName: ' Lucía ', plan: 'gold'};
const workflow = {email: 'Lucia.Fernandez@Example.ES', birthDate: '07/11/1985',
                  phone: '612 34 56 78', tripsPerYear: 2, marketingOptIn: true};
const env = {BRIDGE_URL: url, BRIDGE_TOKEN: token};
const AsyncFunction = (async () => {}).constructor;
const run = new AsyncFunction('axios', 'event', 'user', 'workflow', 'env',
                              fs.readFileSync(card, 'utf8'));
run(axios, event, user, workflow, env).then(() => console.log(JSON.stringify(workflow)));
"""
NODE_JS = shutil.which("node")


def _run_card(url: str, token: str) -> dict:
    card = PLATFORMS / "botpress" / "execute-code.js"
    result = subprocess.run(
        [NODE_JS, "-e", CARD_RUNNER, str(card), url, token],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(NODE_JS is None, reason="Node.js is not installed")
def test_the_botpress_card_delivers_and_stores_the_answer_in_workflow_variables(
    live_server, braze, environment, platform_client
):
    mapping_set = mapping_set_for(BY_ID["botpress"], environment)
    route = f"{live_server.url}/api/v1/platforms/botpress/{mapping_set.slug}/"

    workflow = _run_card(route, platform_client(mapping_set))

    assert workflow["brazeSynced"] is True
    assert workflow["brazeStatus"] == "delivered"
    assert workflow["brazeDeliveryId"]
    [sent] = braze.accepted_objects("attributes")
    assert sent["email"] == "lucia.fernandez@example.es"
    assert sent["dob"] == "1985-11-07"
    assert sent["external_id"] == "conv_01JD8PZ3"


@pytest.mark.skipif(NODE_JS is None, reason="Node.js is not installed")
def test_the_botpress_card_catches_a_refusal_and_stores_the_failure(live_server, braze):
    workflow = _run_card(f"{live_server.url}/api/v1/platforms/botpress/x/", "bzb_wrong")

    assert workflow["brazeSynced"] is False
    assert workflow["brazeStatus"] == "error"
    assert workflow["brazeError"] == "Invalid or revoked API token"
    assert braze.received == []
