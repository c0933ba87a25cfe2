"""Client-side rate limit per environment, so bursts queue up instead of causing 429 storms.

A fixed window of ``DELIVERY_RATE_LIMIT_REQUESTS`` per ``DELIVERY_RATE_LIMIT_WINDOW_SECONDS``,
kept below Braze's 3,000 requests per 3 s. With a Celery broker the counters live in Redis, so
all worker processes share one budget; the embedded engine counts in-process.
"""

import math
import threading
import time
from functools import cache

from django.conf import settings


class _LocalWindows:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}

    def incr(self, environment_id: int, window: int, ttl: float) -> int:
        with self._lock:
            key = (environment_id, window)
            self._counts[key] = self._counts.get(key, 0) + 1
            for old in [k for k in self._counts if k[1] < window - 1]:
                del self._counts[old]
            return self._counts[key]


class _RedisWindows:
    def __init__(self, url: str) -> None:
        import redis  # only needed with a broker

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def incr(self, environment_id: int, window: int, ttl: float) -> int:
        key = f"bridge:ratelimit:{environment_id}:{window}"
        with self._client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, math.ceil(ttl) + 1)
            count, _ = pipe.execute()
        return int(count)


@cache
def _windows(url: str) -> _LocalWindows | _RedisWindows:
    return _RedisWindows(url) if url else _LocalWindows()


def acquire(environment_id: int) -> float:
    """Take one request slot now and return 0, or return the seconds until the next window."""
    size = settings.DELIVERY_RATE_LIMIT_WINDOW_SECONDS
    now = time.time()
    window = int(now // size)
    count = _windows(settings.CELERY_BROKER_URL).incr(environment_id, window, size)
    if count <= settings.DELIVERY_RATE_LIMIT_REQUESTS:
        return 0.0
    return (window + 1) * size - now
