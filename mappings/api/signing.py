"""HMAC request signing for API clients that have a signing secret, as webhook providers do.

The client sends two headers:

- ``X-Bridge-Timestamp``: the current Unix time in seconds;
- ``X-Bridge-Signature``: ``v1=`` + hex HMAC-SHA256, keyed with the shared secret, of
  ``<timestamp>.`` followed by the raw request body bytes.

We refuse (401) a missing header, a timestamp more than API_SIGNATURE_TOLERANCE_SECONDS (5
minutes) away from our clock in either direction, a wrong signature, and a signature already
seen: each signature is remembered in the cache for twice the window, so a captured request
cannot be replayed. A client retrying a request signs it again with a fresh timestamp.
"""

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache

from mappings.api.errors import ApiAuthenticationFailed

TIMESTAMP_HEADER = "X-Bridge-Timestamp"
SIGNATURE_HEADER = "X-Bridge-Signature"
SCHEME = "v1="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Bridge-Signature`` value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def _timestamp(value: str | None, now: float) -> str:
    if not value:
        raise ApiAuthenticationFailed(
            "signature_missing", f"This client must sign requests: send {TIMESTAMP_HEADER}"
        )
    try:
        sent_at = int(value)
    except ValueError:
        raise ApiAuthenticationFailed(
            "signature_invalid", f"{TIMESTAMP_HEADER} must be Unix time in seconds"
        ) from None
    if abs(now - sent_at) > settings.API_SIGNATURE_TOLERANCE_SECONDS:
        raise ApiAuthenticationFailed(
            "signature_expired",
            f"{TIMESTAMP_HEADER} is more than {settings.API_SIGNATURE_TOLERANCE_SECONDS} "
            "seconds away from the server's clock",
        )
    return value


def _is_new_signature(client_id: int, signature: str) -> bool:
    """True the first time this signature is seen (an atomic add in Redis and locmem)."""
    key = f"bridge:signature:{client_id}:{signature[len(SCHEME) :][:64]}"
    return cache.add(key, 1, timeout=2 * settings.API_SIGNATURE_TOLERANCE_SECONDS)


def verify(client_id: int, secret: str, headers, body: bytes, *, now: float | None = None) -> None:
    """Raise ``ApiAuthenticationFailed`` unless the request is signed, fresh and unseen."""
    timestamp = _timestamp(headers.get(TIMESTAMP_HEADER), time.time() if now is None else now)
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not signature:
        raise ApiAuthenticationFailed(
            "signature_missing", f"This client must sign requests: send {SIGNATURE_HEADER}"
        )
    if not hmac.compare_digest(signature.encode(), sign(secret, timestamp, body).encode()):
        raise ApiAuthenticationFailed("signature_invalid", "The request signature does not match")
    if not _is_new_signature(client_id, signature):
        raise ApiAuthenticationFailed(
            "signature_replayed", "This signed request was already received"
        )
