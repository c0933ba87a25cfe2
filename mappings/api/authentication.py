"""Bearer-token authentication for conversation platforms (``Authorization: Bearer <token>``).

Tokens are looked up by their SHA-256 hash: the plaintext is never stored, and the lookup by a
hash of a high-entropy token leaks nothing useful through timing. The lookup is kept for a few
seconds per process (mappings/api/config_lookups.py): a revoked token stops working in
other web processes within ``API_CONFIG_CACHE_SECONDS``. A client with a signing secret
must also sign each request (mappings/api/signing.py), checked before the body is parsed.

The platform routes also take HTTP Basic with the token as the password (any user name), for
platforms that can only put credentials in the webhook's URL (Twilio Studio's
``https://bot:<token>@host/...``) or offer a user name and password field (Dialogflow). A token
is never read from the query string: URLs end up in access logs.
"""

import base64
import binascii
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication

from mappings.api import config_lookups, signing
from mappings.api.errors import ApiAuthenticationFailed
from mappings.models import ApiClient

# last_used_at is for people (is this token still in use?): a minute's precision is plenty, and
# writing it on every request would cost a database round trip and a row update each time.
LAST_USED_PRECISION = timedelta(seconds=60)


class ApiClientTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request) -> tuple[ApiClient, None] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise ApiAuthenticationFailed(
                "invalid_token", "Malformed Authorization header: use 'Bearer <token>'"
            )
        return authenticated_client(request, parts[1].decode("latin-1"))

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return 'Bearer realm="ingest"'


class ApiClientBasicAuthentication(authentication.BaseAuthentication):
    """``Authorization: Basic base64(<any name>:<token>)``: the token is the password."""

    def authenticate(self, request) -> tuple[ApiClient, None] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"basic":
            return None
        token = _basic_password(parts)
        if not token:
            raise ApiAuthenticationFailed(
                "invalid_token",
                "Malformed Basic credentials: use any user name and the API token as the password",
            )
        return authenticated_client(request, token)


def _basic_password(parts: list[bytes]) -> str:
    """The password of ``Basic <base64(name:password)>``; empty when malformed."""
    if len(parts) != 2:
        return ""
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return ""
    return decoded.partition(":")[2]


def authenticated_client(request, token: str) -> tuple[ApiClient, None]:
    """The active client holding ``token``, its request signature checked; else a 401."""
    now = timezone.now()
    client = _client_for(token, now)
    if client.signs_requests:
        # The raw bytes, as signed; Django keeps them for the parser to read afterwards.
        signing.verify(client.pk, client.signing_secret(), request.headers, request.body)
    _record_last_used(client, now)
    return client, None


def _client_for(token: str, now) -> ApiClient:
    client = config_lookups.client_for_token(token)
    if client is None or not client.is_active:
        raise ApiAuthenticationFailed("invalid_token", "Invalid or revoked API token")
    if client.is_expired(now):
        raise ApiAuthenticationFailed("token_expired", "This API token has expired")
    return client


def _record_last_used(client: ApiClient, now) -> None:
    """Record ``last_used_at``, at most once per :data:`LAST_USED_PRECISION` per client.

    The row was just read, so a recent value needs no query at all; the conditional UPDATE keeps
    concurrent requests (other processes) from all writing the same minute.
    """
    stale = now - LAST_USED_PRECISION
    if client.last_used_at is not None and client.last_used_at >= stale:
        return
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=client.pk
    ).update(last_used_at=now)
    client.last_used_at = now
