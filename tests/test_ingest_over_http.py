"""The whole path over real sockets: client -> our server -> fake Braze."""

import pytest
import requests

from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_conversation_posted_over_http_reaches_the_fake_braze(
    live_server, api_token, braze, conversation
):
    response = requests.post(
        f"{live_server.url}/api/v1/ingest/support-bot/",
        json=conversation,
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.json()["success"] is True
    received_now = braze.received
    # On failure, show what arrived: a second request would be a double send or a stray.
    assert len(received_now) == 1, [(r.received_at, r.connection_id, r.body) for r in received_now]
    [received] = received_now
    assert received.headers["authorization"] == f"Bearer {BRAZE_KEY}"
    assert received.body["attributes"][0]["email"] == "zoe@example.com"
