"""Per-client rate limits, counted in the cache (Redis in production, see CACHE_URL).

Each API client gets its own budget: its ``rate_limit`` field, or the API_THROTTLE_RATE setting.
Over it, DRF answers 429 with ``Retry-After``. Requests without a valid client never get here:
authentication answers 401 first.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from mappings.models import ApiClient


class ApiClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"
    cache_format = "bridge:throttle:%(scope)s:%(ident)s"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def allow_request(self, request, view) -> bool:
        client = request.user
        if isinstance(client, ApiClient) and client.rate_limit:
            self.rate = client.rate_limit
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, ApiClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
