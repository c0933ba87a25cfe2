"""The sliding-window counter behind the API throttle: its math with exact numbers, and ``take``
counting in the cache (locmem, and real Redis where it says so; through the ingest endpoint in
test_api_throttling.py), one by one for low rates and in reserved chunks for high ones."""

import os
import random
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches

from mappings.api import request_quota
from mappings.api.request_quota import (
    Rate,
    chunk_size,
    is_allowed,
    parse_rate,
    seconds_until_allowed,
    take,
    weighted_count,
)
from tests.redis_recording import RecordingConnection

REDIS_URL = os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/7")
PER_MINUTE = Rate(limit=3, period=60)
# A whole number of days: a window edge for every period (s, min, hour, day).
EDGE = 86_400 * 20_000.0


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/min", Rate(600, 60)),
        ("20/s", Rate(20, 1)),
        ("2/hour", Rate(2, 3600)),
        ("10000/day", Rate(10000, 86400)),
        ("5/minute", Rate(5, 60)),
        ("0/m", Rate(0, 60)),
    ],
)
def test_it_reads_the_rates_an_api_client_may_have(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "600", "600/week", "x/min", "-1/min", "600/ min"])
def test_it_refuses_what_is_not_a_rate(text):
    with pytest.raises(ValueError, match="Not a rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "weighted"),
    [
        (6, 1, 0, 7.0),  # at the edge the whole previous window is still inside
        (6, 1, 15, 5.5),  # a quarter in: three quarters of it
        (6, 2, 30, 5.0),
        (6, 2, 45, 3.5),
        (0, 4, 59, 4.0),
        (6, 0, 60, 0.0),  # a full window later it weighs nothing (the next window's edge)
    ],
)
def test_the_previous_window_weighs_by_how_much_of_it_is_still_inside(
    previous, current, elapsed, weighted
):
    assert weighted_count(previous, current, elapsed, 60) == weighted


def test_a_request_is_admitted_up_to_the_limit_inclusive():
    assert is_allowed(0, 3, 0, PER_MINUTE)
    assert not is_allowed(0, 4, 59.5, PER_MINUTE)
    # previous 3 at 20 s in: 3 * 40/60 = 2, so exactly one more fits, not two
    assert is_allowed(3, 1, 20, PER_MINUTE)
    assert not is_allowed(3, 2, 20, PER_MINUTE)
    # just before 20 s in, the one does not fit yet
    assert not is_allowed(3, 1, 19.5, PER_MINUTE)


def test_a_limit_of_zero_admits_nothing():
    assert not is_allowed(0, 1, 30, Rate(0, 60))
    assert seconds_until_allowed(0, 0, 45, Rate(0, 60)) == 15


@pytest.mark.parametrize(
    ("previous", "admitted", "elapsed", "wait"),
    [
        # this window is full: into the next one, until 3 * (1 - e/60) + 1 <= 3, i.e. e = 20
        (0, 3, 0, 80.0),
        (0, 3, 10, 70.0),
        (0, 3, 59.5, 20.5),
        (5, 3, 30, 50.0),  # the previous window no longer matters once this one is full
        (0, 4, 30, 60.0),  # over-full (rate lowered meanwhile): e = 60 * 2/4 = 30 next window
        # room left in this window: wait for the previous window's weight to shrink
        (3, 1, 0, 40.0),  # 3 * (1 - e/60) + 2 <= 3 at e = 40
        (3, 1, 10, 30.0),
        (3, 0, 0, 20.0),  # 3 * (1 - e/60) + 1 <= 3 at e = 20
        (6, 0, 30, 10.0),  # 6 * (1 - e/60) <= 2 at e = 40
        (2, 0, 30, 0.0),  # 2 * 0.5 + 1 = 2 <= 3: already fits
        (3, 2, 0, 60.0),  # no room but the next one: the window edge, where 2 + 1 fits
    ],
)
def test_retry_after_is_when_the_next_request_would_fit(previous, admitted, elapsed, wait):
    assert seconds_until_allowed(previous, admitted, elapsed, PER_MINUTE) == wait


@pytest.mark.parametrize(
    ("previous", "admitted", "elapsed"),
    [(0, 3, 0), (0, 3, 10), (3, 1, 0), (6, 0, 30), (3, 2, 0), (7, 1, 12)],
)
def test_after_retry_after_a_request_fits_and_not_a_moment_sooner(previous, admitted, elapsed):
    wait = seconds_until_allowed(previous, admitted, elapsed, PER_MINUTE)
    later = elapsed + wait
    if later >= 60:  # into the next window: this window's count becomes the previous one
        previous, admitted, later = admitted, 0, later - 60
    assert is_allowed(previous, admitted + 1, later, PER_MINUTE)
    assert not is_allowed(previous, admitted + 1, later - 0.5, PER_MINUTE)


def test_take_counts_per_window_and_slides_over_the_edge():
    decisions = [take("quota-test:a", PER_MINUTE, now=EDGE + 10).allowed for _ in range(4)]
    assert decisions == [True, True, True, False]

    refused = take("quota-test:a", PER_MINUTE, now=EDGE + 59.5)
    assert not refused.allowed
    assert refused.retry_after_seconds == 20.5

    assert not take("quota-test:a", PER_MINUTE, now=EDGE + 79.5).allowed
    assert take("quota-test:a", PER_MINUTE, now=EDGE + 80).allowed  # 3 * 40/60 + 1 = 3
    assert not take("quota-test:a", PER_MINUTE, now=EDGE + 80).allowed


def test_take_keeps_each_subject_and_each_period_apart():
    assert take("quota-test:b", Rate(1, 60), now=EDGE).allowed
    assert not take("quota-test:b", Rate(1, 60), now=EDGE).allowed
    assert take("quota-test:c", Rate(1, 60), now=EDGE).allowed
    # a client whose rate changed to another period starts counting afresh
    assert take("quota-test:b", Rate(1, 3600), now=EDGE).allowed


def test_refused_requests_do_not_use_up_quota():
    for _ in range(3):
        take("quota-test:d", PER_MINUTE, now=EDGE)
    for _ in range(50):
        assert not take("quota-test:d", PER_MINUTE, now=EDGE + 30).allowed
    # as if the 50 never came: 3 * (1 - 20/60) + 1 = 3 at 20 s into the next window
    assert take("quota-test:d", PER_MINUTE, now=EDGE + 80).allowed


def _admitted_in_a_forked_child(subject: str, rate: Rate) -> bool:
    """One take() in a child process forked now, as gunicorn forks its workers."""
    pid = os.fork()
    if pid == 0:
        admitted = False
        try:
            admitted = take(subject, rate, now=EDGE).allowed
        finally:
            os._exit(0 if admitted else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_the_redis_client_made_before_a_fork_serves_parent_and_child(settings):
    _use_redis(settings)
    caches["default"].clear()
    assert take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # the parent's pool connects

    assert _admitted_in_a_forked_child("quota-test:fork", PER_MINUTE)

    assert take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # the parent's is still good
    assert not take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # 3 counted in all
    caches["default"].clear()


def test_a_forked_child_does_not_use_its_parents_reserved_units(settings):
    _use_redis(settings)
    caches["default"].clear()
    rate = Rate(1000, 60)  # chunks of 10
    assert take("quota-test:fork-chunk", rate, now=EDGE).allowed  # 9 left in this process

    assert _admitted_in_a_forked_child("quota-test:fork-chunk", rate)

    # The child reserved a chunk of its own: 10 + 10 counted.
    assert caches["default"].get(f"quota-test:fork-chunk:60:{int(EDGE // 60)}") == 20
    caches["default"].clear()


def _use_redis(settings, **options) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": options,
        }
    }


@pytest.fixture(params=["locmem", "redis"])
def store(request, settings) -> str:
    if request.param == "redis":
        _use_redis(settings)
        caches["default"].clear()
        request.addfinalizer(caches["default"].clear)
    return request.param


def _counted(subject: str, rate: Rate, at: float) -> int:
    """What the store holds for ``subject`` in the window of ``EDGE + at``."""
    return caches["default"].get(f"{subject}:{rate.period}:{int((EDGE + at) // rate.period)}", 0)


@pytest.mark.parametrize(
    ("limit", "chunk"),
    [(0, 1), (3, 1), (60, 1), (199, 1), (200, 2), (600, 6), (6400, 64), (100_000_000, 64)],
)
def test_a_chunk_is_a_hundredth_of_the_limit_at_least_1_at_most_64(limit, chunk):
    assert chunk_size(Rate(limit, 60)) == chunk


def test_a_busy_client_costs_one_redis_round_trip_per_chunk(settings):
    _use_redis(settings, connection_class=RecordingConnection)
    caches["default"].clear()
    rate = Rate(6400, 60)  # chunks of 64
    assert take("quota-test:busy", rate, now=EDGE).allowed  # connects; reserves 64, uses 1
    RecordingConnection.sent.clear()

    decisions = [take("quota-test:busy", rate, now=EDGE + i / 100).allowed for i in range(640)]

    assert all(decisions)
    payloads = [payload for _, payload in RecordingConnection.sent]
    assert len(payloads) == 10  # 63 left over from the first, then 577 in ten more chunks
    for payload in payloads:  # each one pipelined INCRBY 64, EXPIRE, GET
        assert b"INCRBY" in payload
        assert b"$2\r\n64\r\n" in payload
        assert b"EXPIRE" in payload
        assert b"GET" in payload
    assert _counted("quota-test:busy", rate, 0) == 11 * 64  # 641 used, 63 still reserved
    caches["default"].clear()


def test_near_the_limit_a_busy_client_counts_one_by_one_as_without_chunks(settings):
    _use_redis(settings, connection_class=RecordingConnection)
    caches["default"].clear()
    rate = Rate(1005, 60)  # chunks of 10
    assert all(take("quota-test:near", rate, now=EDGE).allowed for _ in range(1000))
    RecordingConnection.sent.clear()

    decisions = [take("quota-test:near", rate, now=EDGE).allowed for _ in range(7)]

    assert decisions == [True] * 5 + [False] * 2
    # the last chunk brought the count to 1000, where another would not fit: from there one
    # round trip per admitted request and two per refused one, as without chunks
    counting = [b"INCRBY" in payload for _, payload in RecordingConnection.sent]
    assert counting == [True] * 5 + [True, False] * 2
    caches["default"].clear()


def test_a_chunk_that_no_longer_fits_costs_one_more_round_trip(settings, monkeypatch):
    _use_redis(settings, connection_class=RecordingConnection)
    caches["default"].clear()
    rate = Rate(1005, 60)  # chunks of 10
    first, second = request_quota._Reserves(), request_quota._Reserves()  # as two processes

    def in_process(reserves, count: int) -> list[bool]:
        monkeypatch.setattr(request_quota, "_reserves", reserves)
        return [take("quota-test:late", rate, now=EDGE).allowed for _ in range(count)]

    assert all(in_process(first, 1))  # counted 10
    assert all(in_process(second, 980))  # counted 990: the next chunk would still fit
    assert all(in_process(first, 10))  # but the first takes it: counted 1000
    RecordingConnection.sent.clear()

    assert in_process(second, 7) == [True] * 5 + [False] * 2

    counting = [b"INCRBY" in payload for _, payload in RecordingConnection.sent]
    # the chunk up to 1010, given back but one (1001); then one by one as without chunks
    assert counting == [True, False] + [True] * 4 + [True, False] * 2
    assert in_process(first, 10) == [True] * 9 + [False]  # the 9 it still holds
    assert _counted("quota-test:late", rate, 0) == rate.limit
    caches["default"].clear()


def test_while_a_thread_reserves_a_chunk_the_others_count_one_by_one():
    reserves = request_quota._Reserves()
    rate = Rate(1000, 60)

    assert reserves.next_amount("quota-test:flight", rate, 7, 10, EDGE) == 10
    assert reserves.next_amount("quota-test:flight", rate, 7, 10, EDGE) == 1  # not a second
    reserves.settle("quota-test:flight", rate, 7, False, 0, False)  # the one-by-one count
    assert reserves.next_amount("quota-test:flight", rate, 7, 10, EDGE) == 1
    reserves.settle("quota-test:flight", rate, 7, True, 9, False)  # the chunk: 9 kept

    assert [reserves.next_amount("quota-test:flight", rate, 7, 10, EDGE) for _ in range(10)] == [
        0
    ] * 9 + [10]


def _near_the_limit(subject: str) -> list:
    """Bursts over 1000/min: up to the limit, over it, and as the last window's weight shrinks."""
    rate = Rate(1000, 60)
    bursts = [(10, 1100), (30, 5), (90, 600), (105, 300), (119.9, 300), (130, 1100)]
    return [[take(subject, rate, now=EDGE + at) for _ in range(n)] for at, n in bursts]


def test_near_the_limit_decisions_and_retry_after_are_the_ones_without_chunks(store, monkeypatch):
    assert chunk_size(Rate(1000, 60)) == 10
    chunked = _near_the_limit("quota-test:chunked")
    monkeypatch.setattr(request_quota, "CHUNK_DIVISOR", 10**9)  # chunks of 1: no reserving
    assert chunk_size(Rate(1000, 60)) == 1
    one_by_one = _near_the_limit("quota-test:one-by-one")

    assert chunked == one_by_one  # every decision, every Retry-After
    admitted = [sum(decision.allowed for decision in burst) for burst in chunked]
    # 1000 fit in the window; the next one's weight of it shrinks from 500 at 30 s in to 100 at
    # 59.9 s in, leaving 500, 750, then 998; then 998 * 50/60 at 10 s into the third leaves 168.
    # Each burst reaches the limit, so no reserved unit is left over (those would count as used).
    assert admitted == [1000, 0, 500, 250, 248, 168]
    first_refused = chunked[0][1000]
    assert first_refused.retry_after_seconds == pytest.approx(50 + 60 / 1000)


def test_two_processes_together_admit_no_more_than_the_limit(store, monkeypatch):
    rate = Rate(1005, 60)  # chunks of 10
    first, second = request_quota._Reserves(), request_quota._Reserves()  # as two processes

    monkeypatch.setattr(request_quota, "_reserves", first)
    assert all(take("quota-test:two", rate, now=EDGE + 10).allowed for _ in range(5))
    monkeypatch.setattr(request_quota, "_reserves", second)
    taken = [take("quota-test:two", rate, now=EDGE + 10) for _ in range(1000)]
    # the first holds 5 reserved; the second has the 995 left, in chunks while a chunk fits
    # (990 of them, up to a count of 1000), then one by one
    assert [decision.allowed for decision in taken] == [True] * 995 + [False] * 5
    assert taken[995].retry_after_seconds == pytest.approx(50 + 60 / 1005)
    assert _counted("quota-test:two", rate, 10) == 1005

    monkeypatch.setattr(request_quota, "_reserves", first)
    taken = [take("quota-test:two", rate, now=EDGE + 20) for _ in range(6)]
    assert [decision.allowed for decision in taken] == [True] * 5 + [False]  # its 5 reserved
    assert _counted("quota-test:two", rate, 20) == 1005


def test_processes_taking_turns_at_random_stay_within_the_limit(store, monkeypatch):
    rate = Rate(1005, 60)  # chunks of 10
    processes = [request_quota._Reserves() for _ in range(3)]
    turns = random.Random(20_000)
    admitted = 0
    for _ in range(1500):
        monkeypatch.setattr(request_quota, "_reserves", turns.choice(processes))
        admitted += take("quota-test:turns", rate, now=EDGE + 10).allowed
    # reserved units left unused make it stricter, by at most 9 a process
    assert rate.limit - 3 * 9 <= admitted <= rate.limit
    assert _counted("quota-test:turns", rate, 10) <= rate.limit


def test_threads_of_a_process_share_its_reserved_units(store):
    rate = Rate(1000, 60)  # chunks of 10

    def one(_):
        return take("quota-test:threads", rate, now=EDGE + 10).allowed

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = sum(pool.map(one, range(1600)))

    # one chunk at a time per subject: at most 9 reserved units unused, however many threads
    assert rate.limit - 9 <= admitted <= rate.limit
    assert admitted <= _counted("quota-test:threads", rate, 10) <= rate.limit


def test_units_reserved_in_a_window_are_not_used_in_the_next(store):
    rate = Rate(1000, 60)  # chunks of 10
    assert take("quota-test:edge", rate, now=EDGE + 59.5).allowed
    assert _counted("quota-test:edge", rate, 0) == 10  # 9 left unused in this process

    assert take("quota-test:edge", rate, now=EDGE + 60).allowed
    assert _counted("quota-test:edge", rate, 60) == 10  # a new chunk: the 9 lapsed
    assert _counted("quota-test:edge", rate, 0) == 10  # and count as used

    for _ in range(9):
        assert take("quota-test:edge", rate, now=EDGE + 61).allowed
    assert _counted("quota-test:edge", rate, 60) == 10  # the new chunk's 9, no round trip
    assert take("quota-test:edge", rate, now=EDGE + 62).allowed
    assert _counted("quota-test:edge", rate, 60) == 20


def test_units_reserved_under_another_limit_are_not_used(store):
    assert take("quota-test:changed", Rate(1000, 60), now=EDGE).allowed  # 9 left of 10
    assert take("quota-test:changed", Rate(2000, 60), now=EDGE).allowed
    assert _counted("quota-test:changed", Rate(2000, 60), 0) == 10 + 20


def test_a_busy_client_is_admitted_while_redis_is_down(settings, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    monkeypatch.setattr(request_quota, "_last_warning", float("-inf"))
    rate = Rate(6400, 60)

    assert all(take("quota-test:down", rate, now=EDGE).allowed for _ in range(3))

    _use_redis(settings)  # back: the failed reservations left no chunk half-taken
    caches["default"].clear()
    assert take("quota-test:down", rate, now=EDGE).allowed
    assert _counted("quota-test:down", rate, 0) == 64
    caches["default"].clear()
