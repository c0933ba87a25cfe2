"""Hostile and malformed requests: one JSON error shape with a stable code, never a 500."""

import io
import json

import pytest
from django.db import OperationalError
from django.test import Client, override_settings

from mappings.api.errors import ApiError
from mappings.api.parsers import BoundedJSONParser
from mappings.models import Delivery
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]


def test_a_3_mb_body_gets_413_before_it_is_parsed(ingest, braze):
    not_even_json = b"x" * 3_000_000

    error = _error(ingest.post("support-bot", not_even_json), 413)

    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit_bytes": 1_048_576}
    assert not Delivery.objects.exists()


def test_an_oversized_body_gets_413_even_without_a_token(ingest, braze):
    response = ingest.post("support-bot", b"{}" + b" " * 2_000_000, token="")

    assert _error(response, 413)["code"] == "payload_too_large"


def test_the_size_limit_is_a_setting(ingest, braze, conversation, settings):
    settings.API_MAX_BODY_BYTES = 50

    assert _error(ingest.post("support-bot", conversation), 413)["details"]["limit_bytes"] == 50


def test_the_parser_stops_reading_a_body_without_content_length_at_the_limit(settings):
    settings.API_MAX_BODY_BYTES = 1000
    stream = io.BytesIO(b"[" + b"0," * 10_000 + b"0]")

    with pytest.raises(ApiError) as raised:
        BoundedJSONParser().parse(stream)

    assert raised.value.status_code == 413
    assert stream.tell() == 1001


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deep_nesting_gets_400_not_a_recursion_crash(ingest, braze, depth):
    body = '{"user": {"id": "u-1"}, "deep": ' + "[" * depth + "]" * depth + "}"

    error = _error(ingest.post("support-bot", body), 400)

    assert error["code"] == "nesting_too_deep"
    assert not Delivery.objects.exists()


def test_a_100k_element_array_gets_400(ingest, braze, conversation):
    conversation["items"] = list(range(100_000))

    error = _error(ingest.post("support-bot", conversation), 400)

    assert error["code"] == "body_too_complex"
    assert error["details"] == {"max_items": 10_000}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"user": {"id": "u-1",}', "malformed_json"),
        ("", "malformed_json"),
        (b'{"user": "\xff\xfe"}', "malformed_json"),
        ('{"n": NaN}', "malformed_json"),
        ('{"n": -Infinity}', "malformed_json"),
        ('{"n": 1e400}', "invalid_number"),
        ('{"n": 1' + "0" * 300 + "e99}", "invalid_number"),  # overflows with a 2-digit exponent
        ('{"n": [1.5, 1' + "0" * 400 + ".5]}", "invalid_number"),  # and with no exponent
        ('{"n": ' + "9" * 5000 + "}", "malformed_json"),
        ('{"s": "nul\\u0000byte"}', "invalid_string"),
        ('{"nul\\u0000key": 1}', "invalid_string"),
        ('{"s": "lone \\ud800 surrogate"}', "invalid_string"),
        ('{"s": "lone \\uDC0F low surrogate"}', "invalid_string"),
        ('{"list": ["ok", {"deep": "NUL \\u0000 in a list"}]}', "invalid_string"),
        ("[1, 2]", "invalid_body"),
        ('"a string"', "invalid_body"),
        ("null", "invalid_body"),
    ],
)
def test_a_bad_json_body_gets_400_with_its_code(ingest, braze, raw, code):
    response = ingest.post("support-bot", raw)

    if raw == "":
        # An empty body is an empty object to DRF: it reaches the mapping and fails there.
        assert _error(response, 422)["code"] == "mapping_failed"
        return
    assert _error(response, 400)["code"] == code
    assert braze.received == []


@pytest.mark.parametrize(
    "text",
    [
        "an emoji as an escaped surrogate pair: \\ud83d\\ude00",
        "a backslash, then u0000 as text: \\\\u0000",
        "plain ünïcödé, no escapes",
    ],
)
def test_strings_with_harmless_escapes_are_accepted(ingest, braze, text):
    raw = json.dumps(conversation_for("u1"))[:-1] + ', "note": "' + text + '"}'

    response = ingest.post("support-bot", raw)

    assert response.status_code == 200, response.content
    stored = Delivery.objects.get(pk=response.json()["delivery_id"]).received_payload
    assert stored["note"] == json.loads(raw)["note"]


def test_brackets_and_commas_inside_strings_only_cost_the_full_check(ingest, braze):
    """The byte counts that let a small body skip the walk also count brackets, colons and
    commas inside strings: such a body is walked, and accepted when it is within the limits."""
    note = "[{" * 40 + ":," * 6_000
    raw = json.dumps({**conversation_for("u1"), "note": note, "n": 2.5})

    response = ingest.post("support-bot", raw)

    assert response.status_code == 200, response.content
    stored = Delivery.objects.get(pk=response.json()["delivery_id"]).received_payload
    assert stored["note"] == note and stored["n"] == 2.5


def test_a_non_json_content_type_gets_415(ingest, braze):
    response = ingest.post("support-bot", "user=1", content_type="text/plain")

    assert _error(response, 415)["code"] == "unsupported_media_type"


def test_a_wrong_method_gets_405_in_the_error_shape(api_token):
    response = Client().get(
        "/api/v1/ingest/support-bot/", headers={"Authorization": f"Bearer {api_token}"}
    )

    assert _error(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


def test_an_unknown_api_url_gets_a_json_404_not_an_html_page():
    error = _error(Client().get("/api/v1/no-such-endpoint/"), 404)

    assert error["code"] == "not_found"


def test_an_unknown_url_outside_the_api_keeps_djangos_html_404():
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_disallowed_host_under_the_api_gets_a_json_400():
    response = Client(HTTP_HOST="evil.example.com").get("/api/v1/ingest/support-bot/")

    assert _error(response, 400)["code"] == "bad_request"


@override_settings(ROOT_URLCONF="tests.crashing_urls")
def test_a_crash_under_the_api_gets_a_json_500_without_a_traceback():
    response = Client(raise_request_exception=False).get("/api/v1/crash/")

    error = _error(response, 500)
    assert error == {"code": "server_error", "message": "Internal error; it has been logged"}
    assert b"Traceback" not in response.content


def test_an_unreachable_database_gets_503_with_retry_after(ingest, conversation, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("mappings.ingest.conversations.ingest", unreachable)

    response = ingest.post("support-bot", conversation)

    assert _error(response, 503)["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


def test_unicode_and_nulls_in_a_valid_conversation_are_delivered(ingest, braze, conversation):
    conversation["user"]["profile"]["first_name"] = "Zoë 🦜 \u202e ゾエ"
    conversation["answers"]["city"] = None

    response = ingest.post("support-bot", json.dumps(conversation, ensure_ascii=False))

    assert response.status_code == 200
    assert braze.received[0].body["attributes"][0]["first_name"] == "Zoë 🦜 \u202e ゾエ"
