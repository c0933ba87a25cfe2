"""A Pypestream-style action node that sends what the bot collected to the bridge.

Replaces the hand-written Braze call on Braze's Pypestream partner page: the bot no longer holds a
Braze API key or builds the /users/track body; it posts the conversation facts it has and
branches on ``success`` in the answer.

Configure with environment variables (or edit the constants):
    BRIDGE_URL    e.g. https://bridge.example.com
    BRIDGE_TOKEN  the API client token shown once in the admin
    BRIDGE_SLUG   the mapping set slug, e.g. pypestream-demo

Run by hand: python examples/pypestream_action_node.py examples/pypestream_conversation.json
"""

import json
import os
import sys

import requests

BRIDGE_URL = os.environ.get("BRIDGE_URL", "http://127.0.0.1:8000")
BRIDGE_TOKEN = os.environ.get("BRIDGE_TOKEN", "")
BRIDGE_SLUG = os.environ.get("BRIDGE_SLUG", "pypestream-demo")


def send_to_braze(conversation: dict) -> dict:
    """POST the conversation; return the bridge's answer (always has "success")."""
    try:
        response = requests.post(
            f"{BRIDGE_URL}/api/v1/ingest/{BRIDGE_SLUG}/",
            json=conversation,
            headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"},
            timeout=(3.05, 15),
        )
    except requests.RequestException as error:
        return {"success": False, "error": {"code": "bridge_unreachable", "message": str(error)}}
    try:
        return response.json()
    except ValueError:
        return {"success": False, "error": {"code": "bad_answer", "message": response.text[:200]}}


def execute(conversation: dict) -> str:
    """The action node: returns the name of the next node, as a flow branch would."""
    answer = send_to_braze(conversation)
    return "braze_saved" if answer.get("success") else "braze_failed"


if __name__ == "__main__":
    with open(sys.argv[1]) as sample:
        result = send_to_braze(json.load(sample))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.exit(0 if result.get("success") else 1)
