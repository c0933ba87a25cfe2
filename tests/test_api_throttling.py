"""Per-client throttling (S7): over its quota a client gets 429 with Retry-After.

Requests go through the ingest endpoint with the in-process test client (the whole request
stack, no socket; their bodies miss required fields: 422, no Braze call), on both counter
stores: the cache API (locmem) and real Redis (one pipelined round trip per request, or per
reserved chunk for a busy client). The quota's clock is a fake one, so window edges are
crossed exactly and fast.
"""

import logging
import os
import socket

import pytest
import redis
from django.core.cache import caches

from mappings.api import request_quota
from mappings.models import ApiClient
from tests.redis_recording import RecordingConnection

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/6")
REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "bridge-tests",
    }
}
# A whole number of days: a window edge for every period (s, min, hour, day).
EDGE = 86_400 * 20_000.0


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, seconds_after_edge: float) -> None:
        self.now = EDGE + seconds_after_edge


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock(EDGE + 10)
    monkeypatch.setattr(request_quota, "clock", fake)
    return fake


def _use_redis(settings, url: str, **options) -> None:
    settings.CACHES = {"default": {**REDIS_CACHE["default"], "LOCATION": url, "OPTIONS": options}}


@pytest.fixture(params=["locmem", "redis"])
def store(request, settings) -> str:
    if request.param == "redis":
        _use_redis(settings, REDIS_URL)
        caches["default"].clear()
        request.addfinalizer(caches["default"].clear)
    return request.param


def _burst(ingest, count: int) -> list:
    return [ingest.post("support-bot", {"user": {"id": "u-1"}}) for _ in range(count)]


def _statuses(ingest, count: int) -> list[int]:
    return [r.status_code for r in _burst(ingest, count)]


def test_exactly_the_limit_is_admitted_then_429_with_retry_after(
    ingest, braze, settings, clock, store
):
    settings.API_THROTTLE_RATE = "3/min"
    clock.at(10)

    responses = _burst(ingest, 5)

    assert [r.status_code for r in responses] == [422, 422, 422, 429, 429]
    limited = responses[-1]
    # 50 s to the window's end, then 20 s until 3 * (1 - 20/60) + 1 <= 3
    assert limited["Retry-After"] == "70"
    body = limited.json()
    assert body["success"] is False
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"]["retry_after_seconds"] == 70


def test_the_quota_comes_back_as_the_window_slides(ingest, braze, settings, clock, store):
    settings.API_THROTTLE_RATE = "3/min"
    clock.at(10)
    assert _statuses(ingest, 3) == [422, 422, 422]

    clock.at(60)  # the next window, but the last one still weighs 3 * 1 + 1 > 3
    assert _statuses(ingest, 1) == [429]
    clock.at(79.5)
    (almost,) = _burst(ingest, 1)
    assert almost.status_code == 429
    assert almost["Retry-After"] == "1"  # 0.5 s, rounded up
    clock.at(80)
    assert _statuses(ingest, 2) == [422, 429]  # 3 * 40/60 + 1 = 3, then no more room
    clock.at(100)
    assert _statuses(ingest, 2) == [422, 429]  # 3 * 20/60 + 2 = 3
    clock.at(180)  # the burst's window is two windows back: the full quota again
    assert _statuses(ingest, 4) == [422, 422, 422, 429]


def test_a_refused_burst_does_not_extend_the_lockout(ingest, braze, settings, clock, store):
    settings.API_THROTTLE_RATE = "3/min"
    clock.at(10)
    _burst(ingest, 3)

    clock.at(30)
    refused = _burst(ingest, 20)

    assert {r.status_code for r in refused} == {429}
    assert {r["Retry-After"] for r in refused} == {"50"}  # the 20 did not push it further
    clock.at(80)  # counted, the 20 would make it 23 * 40/60 + 1 > 3 until 54.8 s in
    assert _statuses(ingest, 1) == [422]


def test_a_clients_own_rate_overrides_the_default(ingest, braze, settings, clock, store):
    settings.API_THROTTLE_RATE = "100/min"
    ApiClient.objects.update(rate_limit="2/hour")

    assert _statuses(ingest, 3) == [422, 422, 429]


def test_a_per_second_rate_counts_in_one_second_windows(ingest, braze, settings, clock, store):
    ApiClient.objects.update(rate_limit="20/s")
    clock.at(0)
    assert _statuses(ingest, 21) == [422] * 20 + [429]
    clock.at(2)
    assert _statuses(ingest, 21) == [422] * 20 + [429]


def test_each_client_has_its_own_budget(ingest, braze, settings, mapping_set, clock, store):
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


def test_the_counters_live_in_redis_when_configured(ingest, braze, settings, clock):
    _use_redis(settings, REDIS_URL)
    redis_cache = caches["default"]
    redis_cache.clear()
    settings.API_THROTTLE_RATE = "2/min"
    clock.at(10)

    statuses = _statuses(ingest, 3)

    assert statuses == [422, 422, 429]
    client = ApiClient.objects.get()
    window = int(EDGE // 60)
    # named by the cache's KEY_PREFIX and version; the refused request was given back
    assert redis_cache.get(f"bridge:throttle:{client.pk}:60:{window}") == 2
    raw = redis.Redis.from_url(REDIS_URL)
    key = f"bridge-tests:1:bridge:throttle:{client.pk}:60:{window}"
    assert raw.get(key) == b"2"
    assert 0 < raw.ttl(key) <= 121  # two windows and a second, then Redis drops it
    redis_cache.clear()


def test_one_redis_round_trip_per_admitted_request_two_per_refused(ingest, braze, settings, clock):
    _use_redis(settings, REDIS_URL, connection_class=RecordingConnection)
    caches["default"].clear()
    settings.API_THROTTLE_RATE = "5/min"
    _burst(ingest, 1)  # opens the connection (its handshake is not per request)
    RecordingConnection.sent.clear()

    statuses = _statuses(ingest, 6)

    assert statuses == [422] * 4 + [429] * 2
    sent = RecordingConnection.sent
    assert len(sent) == 4 + 2 * 2
    assert len({connection for connection, _ in sent}) == 1  # one pooled connection, reused
    counting = [payload for _, payload in sent if b"INCR" in payload]
    assert len(counting) == 6
    for payload in counting:  # INCR, EXPIRE and GET go out together
        assert b"EXPIRE" in payload
        assert b"GET" in payload
        assert payload.count(b"bridge:throttle:") == 3
    assert sum(b"DECR" in payload for _, payload in sent) == 2  # the refused give theirs back
    caches["default"].clear()


def test_a_busy_client_over_its_quota_gets_429_with_retry_after(
    ingest, braze, settings, clock, store
):
    ApiClient.objects.update(rate_limit="500/min")  # reserved 5 at a time
    clock.at(10)

    responses = _burst(ingest, 502)

    assert [r.status_code for r in responses] == [422] * 500 + [429] * 2
    # 50 s to the window's end, then until 500 * (1 - e/60) + 1 <= 500: 0.12 s, rounded up
    assert responses[-1]["Retry-After"] == "51"
    clock.at(70)  # the next window: 500 * 50/60 + 84 = 500.7 > 500, so 83 fit
    assert _statuses(ingest, 84) == [422] * 83 + [429]


def test_a_busy_client_costs_one_redis_round_trip_per_chunk(ingest, braze, settings, clock):
    _use_redis(settings, REDIS_URL, connection_class=RecordingConnection)
    caches["default"].clear()
    settings.API_THROTTLE_RATE = "6400/min"  # reserved 64 at a time
    _burst(ingest, 1)  # opens the connection; reserves 64 and uses one
    RecordingConnection.sent.clear()

    statuses = _statuses(ingest, 128)

    assert statuses == [422] * 128
    sent = [payload for _, payload in RecordingConnection.sent]
    assert len(sent) == 2  # after the 63 left, 64 more reserved twice
    assert all(b"INCRBY" in payload and b"$2\r\n64\r\n" in payload for payload in sent)
    caches["default"].clear()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_requests_are_served_unthrottled_when_redis_is_down(
    ingest, braze, settings, clock, closed_port, caplog, monkeypatch
):
    _use_redis(settings, f"redis://127.0.0.1:{closed_port}/7")
    monkeypatch.setattr(request_quota, "_last_warning", float("-inf"))
    settings.API_THROTTLE_RATE = "1/min"

    with caplog.at_level(logging.WARNING, logger="mappings.api.request_quota"):
        statuses = _statuses(ingest, 3)
        clock.at(30)
        statuses += _statuses(ingest, 1)
        clock.at(75)
        statuses += _statuses(ingest, 1)

    assert statuses == [422] * 5  # served (422: the body misses required fields), never 429/500
    warnings = [r for r in caplog.records if r.name == "mappings.api.request_quota"]
    assert len(warnings) == 2  # once, then again only a minute later
    assert "ConnectionError" in warnings[0].getMessage()
