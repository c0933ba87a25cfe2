"""An AWS Lambda code hook for Amazon Lex V2 that forwards Lex's event to the bridge.

Lex V2 calls only Lambda, so this function is the whole integration: it posts the event it gets,
unchanged, to ``POST /api/v1/platforms/lex-v2/<slug>/`` and returns the bridge's answer, which is
already a Lex response (session attributes ``braze_synced``, ``braze_status``,
``braze_delivery_id``; Delegate after a dialog hook, Close after fulfillment). When the bridge
cannot be reached, is too slow, or answers something that is not a Lex response, it builds a
valid Lex response itself (intent Failed after fulfillment), because a Lambda that raises or
returns garbage breaks the conversation.

Python standard library only, so it deploys as a single file. Configure with environment
variables:
    BRIDGE_URL    the route, e.g. https://bridge.example.com/api/v1/platforms/lex-v2/travel-bot/
    BRIDGE_TOKEN  the API client's token (sent as a Bearer header, never in the URL)
Set the Lambda's own timeout to 10 s (AWS's default is 3 s): the bridge answers within 8 s, and
this function gives up on it before the Lambda itself would be cut off.
"""

import json
import os
import urllib.error
import urllib.request

FULFILLMENT = "FulfillmentCodeHook"
MAX_WAIT_SECONDS = 9.0  # the bridge's Lex budget is 8 s; the Lambda's timeout should be 10 s
SAFETY_MARGIN_SECONDS = 0.5  # time left to build and return our own answer
MIN_WAIT_SECONDS = 0.1


def lambda_handler(event: dict, context) -> dict:
    """The Lex code hook: the bridge's Lex response, or our own when the bridge fails us."""
    try:
        answer = forward(event, wait_seconds(context))
    except (OSError, ValueError) as error:  # URLError, timeouts and bad JSON are among these
        print(f"bridge unreachable: {type(error).__name__}")  # CloudWatch; never the token
        return fallback_response(event, "bridge_unreachable")
    if not is_lex_response(answer):
        print("bridge answer is not a Lex response")
        return fallback_response(event, "bridge_refused")
    return answer


def wait_seconds(context) -> float:
    """How long to wait for the bridge: under MAX_WAIT_SECONDS and the Lambda's time left."""
    if context is None:
        return MAX_WAIT_SECONDS
    left = context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    return max(MIN_WAIT_SECONDS, min(MAX_WAIT_SECONDS, left))


def forward(event: dict, timeout: float) -> object:
    """POST the event; the decoded JSON answer, whatever its HTTP status (refusals too)."""
    url = os.environ["BRIDGE_URL"]
    if not url.startswith(("https://", "http://")):  # urllib would also open file: URLs
        raise ValueError("BRIDGE_URL must be an https:// URL")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=json.dumps(event).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {os.environ['BRIDGE_TOKEN']}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as refusal:  # a 4xx/5xx still has a body to read
        with refusal:
            return json.loads(refusal.read())


def is_lex_response(answer: object) -> bool:
    """Lex needs ``sessionState.dialogAction.type``; an API error body does not have it."""
    if not isinstance(answer, dict) or not isinstance(answer.get("sessionState"), dict):
        return False
    action = answer["sessionState"].get("dialogAction")
    return isinstance(action, dict) and action.get("type") in ("Close", "Delegate")


def fallback_response(event: dict, status: str) -> dict:
    """A valid Lex response saying the profile was not saved: the conversation goes on."""
    state = event.get("sessionState") or {}
    attributes = dict(state.get("sessionAttributes") or {})
    attributes.update({"braze_synced": "false", "braze_status": status, "braze_delivery_id": ""})
    intent = dict(state.get("intent") or {})
    action = {"type": "Delegate"}
    if event.get("invocationSource") == FULFILLMENT:
        action = {"type": "Close"}
        intent["state"] = "Failed"
    session_state = {"sessionAttributes": attributes, "dialogAction": action, "intent": intent}
    if isinstance(state.get("activeContexts"), list):
        session_state["activeContexts"] = state["activeContexts"]
    return {"sessionState": session_state}
