"""The sliding-window counter behind the API throttle: its math with exact numbers, and ``take``
counting in the cache (locmem here; Redis in test_api_throttling.py)."""

import os

import pytest
from django.core.cache import caches

from mappings.services.request_quota import (
    Rate,
    is_allowed,
    parse_rate,
    seconds_until_allowed,
    take,
    weighted_count,
)

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


def test_the_redis_client_made_before_a_fork_serves_parent_and_child(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    caches["default"].clear()
    assert take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # the parent's pool connects

    pid = os.fork()  # as gunicorn forks its workers
    if pid == 0:
        admitted = False
        try:
            admitted = take("quota-test:fork", PER_MINUTE, now=EDGE).allowed
        finally:
            os._exit(0 if admitted else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # the parent's is still good
    assert not take("quota-test:fork", PER_MINUTE, now=EDGE).allowed  # 3 counted in all
    caches["default"].clear()
