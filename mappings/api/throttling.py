"""Per-client rate limits, counted in the cache (Redis in production, see CACHE_URL).

Each API client gets its own budget: its ``rate_limit`` field, or the API_THROTTLE_RATE setting,
counted by an approximate sliding window (mappings/api/request_quota.py says how, and how
far it can be off). Over it, DRF answers 429 with ``Retry-After``. Requests without a valid
client never get here: authentication answers 401 first.
"""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from mappings.api import request_quota
from mappings.models import ApiClient


class ApiClientRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return True
        rate = request_quota.parse_rate(client.rate_limit or settings.API_THROTTLE_RATE)
        decision = request_quota.take(f"bridge:throttle:{client.pk}", rate)
        self._retry_after = decision.retry_after_seconds
        return decision.allowed

    def wait(self) -> float | None:
        return self._retry_after
