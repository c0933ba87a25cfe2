"""Per-client throttling (S7): over its quota a client gets 429 with Retry-After."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from mappings.models import ApiClient

pytestmark = pytest.mark.django_db

REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/6",
        "KEY_PREFIX": "bridge-tests",
    }
}


def _burst(ingest, count: int) -> list:
    return [ingest.post("support-bot", {"user": {"id": "u-1"}}) for _ in range(count)]


def test_a_burst_over_the_default_rate_gets_429_with_retry_after(ingest, braze, settings):
    settings.API_THROTTLE_RATE = "3/min"

    responses = _burst(ingest, 5)

    assert [r.status_code for r in responses] == [422, 422, 422, 429, 429]
    limited = responses[-1]
    assert 0 < int(limited["Retry-After"]) <= 60
    body = limited.json()
    assert body["success"] is False
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"]["retry_after_seconds"] == int(limited["Retry-After"])


def test_a_clients_own_rate_overrides_the_default(ingest, braze, settings):
    settings.API_THROTTLE_RATE = "100/min"
    ApiClient.objects.update(rate_limit="2/hour")

    statuses = [r.status_code for r in _burst(ingest, 3)]

    assert statuses == [422, 422, 429]


def test_each_client_has_its_own_budget(ingest, braze, settings, mapping_set):
    settings.API_THROTTLE_RATE = "1/min"
    other = ApiClient(name="Other platform")
    other_token = other.issue_token()
    other.save()
    other.mapping_sets.add(mapping_set)

    ingest.post("support-bot", {})
    mine = ingest.post("support-bot", {})
    theirs = ingest.post("support-bot", {}, token=other_token)

    assert mine.status_code == 429
    assert theirs.status_code == 422


@override_settings(CACHES=REDIS_CACHE)
def test_the_counters_live_in_redis_when_configured(ingest, braze, settings):
    redis_cache = caches["default"]
    redis_cache.clear()
    settings.API_THROTTLE_RATE = "2/min"

    statuses = [r.status_code for r in _burst(ingest, 3)]

    assert statuses == [422, 422, 429]
    client = ApiClient.objects.get()
    assert redis_cache.get(f"bridge:throttle:api_client:{client.pk}") is not None
    redis_cache.clear()
