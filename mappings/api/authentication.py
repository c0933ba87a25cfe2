"""Bearer-token authentication for conversation platforms (``Authorization: Bearer <token>``).

Tokens are looked up by their SHA-256 hash: the plaintext is never stored, and the lookup by a
hash of a high-entropy token leaks nothing useful through timing.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from mappings.models import ApiClient
from mappings.models.config import hash_token


class ApiClientTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request) -> tuple[ApiClient, None] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Bearer <token>'"
            )
        client = self._client_for(parts[1].decode("latin-1"))
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
        return client, None

    def _client_for(self, token: str) -> ApiClient:
        client = ApiClient.objects.filter(token_hash=hash_token(token)).first()
        if client is None or not client.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token")
        return client

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return 'Bearer realm="ingest"'
