"""Content negotiation through the in-process test client (the whole request stack, no socket):
remembered answers must be the ones DRF would give."""

import json

import pytest
from rest_framework.test import APIClient

from mappings.api.negotiation import RememberingContentNegotiation


@pytest.fixture
def client():
    RememberingContentNegotiation._answers.clear()
    return APIClient()


def _get(client, accept: str | None):
    headers = {"Accept": accept} if accept is not None else {}
    return client.get("/healthz", headers=headers)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
def test_json_is_answered_the_first_time_and_again_from_memory(client, accept):
    first, again = _get(client, accept), _get(client, accept)

    for response in (first, again):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"status": "ok"}


def test_an_unacceptable_type_is_refused_every_time_not_remembered(client):
    for _ in range(2):
        response = _get(client, "text/html")
        assert response.status_code == 406
    assert _get(client, "application/json").status_code == 200


def test_each_accept_header_keeps_its_own_parameters(client):
    indented = _get(client, "application/json; indent=4")
    plain = _get(client, "application/json")
    indented_again = _get(client, "application/json; indent=4")

    assert (
        indented.content
        == indented_again.content
        == json.dumps({"status": "ok"}, indent=4).encode()
    )
    assert plain.content == b'{"status":"ok"}'


def test_the_memory_is_bounded(client, monkeypatch):
    monkeypatch.setattr("mappings.api.negotiation.MAX_REMEMBERED", 3)
    for number in range(10):
        assert _get(client, f"application/json; n={number}").status_code == 200
    assert len(RememberingContentNegotiation._answers) <= 3
