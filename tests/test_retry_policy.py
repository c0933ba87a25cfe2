"""The retry policy: Braze's rate-limit headers, backoff with jitter, and when to give up."""

import random

import pytest
from django.conf import settings

from mappings.delivery.retry_policy import Backoff, gives_up, rate_limit_wait

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Reset": str(int(NOW) + 7)}, 7.0),  # classic: epoch seconds
        ({"x-ratelimit-reset": "12"}, 12.0),  # newer contracts: seconds remaining
        ({"X-Ratelimit-Retry-After": "3"}, 3.0),  # newer contracts' 429
        ({"x-ratelimit-retry-after": "0.5"}, 0.5),
        ({"Retry-After": "4"}, 4.0),
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),  # already past
    ],
)
def test_it_reads_every_rate_limit_header_variant(headers, wait):
    assert rate_limit_wait(headers, NOW) == pytest.approx(wait)


def test_it_says_nothing_when_a_429_has_no_usable_header():
    assert rate_limit_wait({"X-RateLimit-Reset": "soon"}, NOW) is None
    assert rate_limit_wait({}, NOW) is None


def test_backoff_grows_exponentially_within_jittered_bounds_and_a_cap():
    backoff, rng = Backoff(base_seconds=10, max_seconds=100), random.Random(4)
    for failures, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [backoff.delay(failures, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter spreads a burst


def test_the_default_policy_keeps_retrying_for_at_least_24_hours():
    backoff, rng = Backoff(settings.DELIVERY_BACKOFF_BASE_SECONDS, 3600.0), random.Random(1)
    age, attempts = 0.0, 0
    limits = {"max_attempts": settings.DELIVERY_MAX_ATTEMPTS, "window_seconds": 27 * 3600.0}
    while True:
        attempts += 1
        if gives_up(attempts, age, **limits):
            break
        age += backoff.delay(attempts, rng)
    assert age >= 24 * 3600
