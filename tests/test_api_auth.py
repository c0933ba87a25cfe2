"""Client authentication: expiring tokens and per-client HMAC request signing (S2, S4)."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mappings.api.signing import sign
from mappings.models import ApiClient, Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def signing_secret(api_token) -> str:
    client = ApiClient.objects.get()
    secret = client.issue_signing_secret()
    client.save()
    return secret


def _signed(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {"X-Bridge-Timestamp": timestamp, "X-Bridge-Signature": sign(secret, timestamp, body)}


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_an_expired_token_gets_401(ingest, braze, conversation):
    ApiClient.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 401
    assert _code(response) == "token_expired"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Delivery.objects.exists()


def test_a_token_with_a_future_expiry_still_works(ingest, braze, conversation):
    ApiClient.objects.update(expires_at=timezone.now() + timedelta(days=1))

    assert ingest.post("support-bot", conversation).status_code == 200


def test_a_signed_request_is_accepted(ingest, braze, conversation, signing_secret):
    body = json.dumps(conversation).encode()

    response = ingest.post("support-bot", body, headers=_signed(signing_secret, body))

    assert response.status_code == 200, response.json()
    assert len(braze.received) == 1


def test_the_signing_secret_is_stored_encrypted(signing_secret):
    client = ApiClient.objects.get()

    assert signing_secret not in client.signing_secret_ciphertext
    assert client.signing_secret() == signing_secret


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda headers: headers.pop("X-Bridge-Signature"), "signature_missing"),
        (lambda headers: headers.pop("X-Bridge-Timestamp"), "signature_missing"),
        (lambda headers: headers.update({"X-Bridge-Signature": "v1=" + "0" * 64}),
         "signature_invalid"),
        (lambda headers: headers.update({"X-Bridge-Timestamp": "yesterday"}),
         "signature_invalid"),
        (lambda headers: headers.update({"X-Bridge-Timestamp": str(int(time.time()) + 1)}),
         "signature_invalid"),
    ],
)  # fmt: skip
def test_a_badly_signed_request_gets_401_and_is_not_processed(
    ingest, braze, conversation, signing_secret, change, code
):
    body = json.dumps(conversation).encode()
    headers = _signed(signing_secret, body)
    change(headers)

    response = ingest.post("support-bot", body, headers=headers)

    assert response.status_code == 401
    assert _code(response) == code
    assert not Delivery.objects.exists()
    assert braze.received == []


def test_a_signature_over_another_body_is_refused(ingest, braze, conversation, signing_secret):
    body = json.dumps(conversation).encode()
    headers = _signed(signing_secret, b'{"user": {"id": "someone-else"}}')

    response = ingest.post("support-bot", body, headers=headers)

    assert _code(response) == "signature_invalid"


# 10 s past the 300 s tolerance: the header is whole seconds, and a slow request must not bring a
# just-over timestamp back inside the window before the server reads it.
@pytest.mark.parametrize("offset", [-310, 310])
def test_a_stale_or_future_timestamp_is_refused(
    ingest, braze, conversation, signing_secret, offset
):
    body = json.dumps(conversation).encode()

    response = ingest.post(
        "support-bot", body, headers=_signed(signing_secret, body, at=time.time() + offset)
    )

    assert response.status_code == 401
    assert _code(response) == "signature_expired"


def test_a_replayed_signed_request_is_refused_and_processed_once(
    ingest, braze, conversation, signing_secret
):
    body = json.dumps(conversation).encode()
    headers = _signed(signing_secret, body)

    first = ingest.post("support-bot", body, headers=headers)
    replay = ingest.post("support-bot", body, headers=headers)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert _code(replay) == "signature_replayed"
    assert Delivery.objects.count() == 1
    assert len(braze.received) == 1


def test_a_client_without_a_secret_needs_no_signature(ingest, braze, conversation):
    response = ingest.post("support-bot", conversation, headers={"X-Bridge-Signature": "junk"})

    assert response.status_code == 200


def test_the_admin_shows_a_new_signing_secret_once(admin_client, api_token):
    client = ApiClient.objects.get()

    page = admin_client.post(
        "/admin/mappings/apiclient/",
        {"action": "issue_signing_secret", "_selected_action": [client.pk]},
    )

    secret = page.context["issued"][0][1]
    assert secret.startswith("bzs_")
    assert secret in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    client.refresh_from_db()
    assert client.signing_secret() == secret
    change_page = admin_client.get(f"/admin/mappings/apiclient/{client.pk}/change/")
    assert secret not in change_page.content.decode()
    assert client.signing_secret_ciphertext not in change_page.content.decode()


def test_the_admin_can_stop_requiring_signatures(admin_client, signing_secret):
    client = ApiClient.objects.get()

    admin_client.post(
        "/admin/mappings/apiclient/",
        {"action": "disable_signing", "_selected_action": [client.pk]},
    )

    client.refresh_from_db()
    assert client.signs_requests is False


def test_the_admin_lists_expiry_signing_and_last_use(admin_client, ingest, braze, conversation):
    ingest.post("support-bot", conversation)

    page = admin_client.get("/admin/mappings/apiclient/").content.decode()

    assert "Last used at" in page
    assert "Expires at" in page
    assert "Signs requests" in page


def test_key_rotation_re_encrypts_signing_secrets(signing_secret, settings):
    from django.core.management import call_command

    from mappings import encryption

    old = ApiClient.objects.get().signing_secret_ciphertext
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [
        encryption.generate_key(),
        *settings.BRAZE_KEY_ENCRYPTION_KEYS,
    ]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115

    client = ApiClient.objects.get()
    assert client.signing_secret_ciphertext != old
    settings.BRAZE_KEY_ENCRYPTION_KEYS = settings.BRAZE_KEY_ENCRYPTION_KEYS[:1]
    assert client.signing_secret() == signing_secret


def test_last_use_is_written_at_most_once_a_minute(ingest, braze, conversation):
    ingest.post("support-bot", conversation)
    first = ApiClient.objects.get().last_used_at

    ingest.post("support-bot", conversation)

    assert ApiClient.objects.get().last_used_at == first


def test_last_use_moves_on_once_the_recorded_one_is_over_a_minute_old(ingest, braze, conversation):
    long_ago = timezone.now() - timedelta(minutes=5)
    ApiClient.objects.update(last_used_at=long_ago)

    ingest.post("support-bot", conversation)

    assert ApiClient.objects.get().last_used_at > long_ago + timedelta(minutes=4)
