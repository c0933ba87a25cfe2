"""A Pypestream-style action node that sends what the bot collected to the bridge.

Replaces the hand-written Braze call on Braze's Pypestream partner page: the bot no longer holds a
Braze API key or builds the /users/track body; it posts the conversation facts it has to the
Pypestream route, ``POST /api/v1/platforms/pypestream/<slug>/``, and branches on ``success`` in
the flat answer. Send ``session_id``, a ``turn_id`` unique to this step of this session (a resent
turn then reaches Braze once), ``text``, ``language`` and a ``variables`` object (the sample:
examples/platforms/pypestream/request.json); docs/platforms.md says what the route reads.

Configure with environment variables (or edit the constants):
    BRIDGE_URL    e.g. https://bridge.example.com
    BRIDGE_TOKEN  the API client token shown once in the admin
    BRIDGE_SLUG   the mapping set slug, e.g. pypestream-demo

Run by hand (from the repository's root):
    python examples/platforms/pypestream/action_node.py examples/platforms/pypestream/request.json
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
            f"{BRIDGE_URL}/api/v1/platforms/pypestream/{BRIDGE_SLUG}/",
            json=conversation,
            headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"},
            # The route answers within its 9 s budget (queued when Braze is slower).
            timeout=(3.05, 10),
        )
    except requests.RequestException as error:
        return {"success": False, "error_code": "bridge_unreachable", "message": str(error)}
    try:
        return response.json()
    except ValueError:
        return {"success": False, "error_code": "bad_answer", "message": response.text[:200]}


def execute(conversation: dict) -> str:
    """The action node: returns the name of the next node, as a flow branch would."""
    answer = send_to_braze(conversation)
    return "braze_saved" if answer.get("success") else "braze_failed"


if __name__ == "__main__":
    with open(sys.argv[1]) as sample:
        result = send_to_braze(json.load(sample))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.exit(0 if result.get("success") else 1)
