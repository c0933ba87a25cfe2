"""Per-client request quotas: an approximate sliding window kept in two fixed-window counters.

Time is cut into fixed windows of the rate's period (``600/min``: 60 s windows aligned on the
epoch). Each client has one counter per window. A request at ``elapsed`` seconds into the current
window sees

    weighted = previous * (period - elapsed) / period + current

where ``previous`` is the count of the previous window, weighted by the share of it still inside
the sliding window that ends now, and ``current`` counts this window including this request. The
request is admitted while ``weighted <= limit``; a refused request is given back, so a client
that keeps knocking does not push its own lockout further out. ``seconds_until_allowed`` answers
how long until the next request would be admitted if nothing else came in (``Retry-After``).

It approximates a sliding log (the time of every request, which DRF's SimpleRateThrottle keeps)
at a constant cost: two integers per client instead of one timestamp per request. It assumes the
previous window's requests were spread evenly over it; where they were not, it is off at window
edges, either way, by at most:

- more: never more than ``limit`` in one fixed window, but a span of ``period`` seconds across a
  window edge can hold up to ``2 * limit - 1`` (``limit`` bunched at the very end of one window,
  then ``limit - 1`` more ramping up, ``limit * elapsed / period`` by ``elapsed``, in the next),
  where a log would hold ``limit``;
- fewer: after ``limit`` requests at the very start of a window, the next window gives them back
  gradually (the k-th at ``k * period / limit`` seconds in), where a log would admit them all as
  soon as the first ones are ``period`` old. So Retry-After reaches ``period + period / limit``
  (80 s for 3/min used up at the top of a minute; a log would say 60 s).

For steady traffic it counts a little high: evenly spaced requests at exactly ``limit`` per
``period`` are sometimes refused (the request that a log would just have dropped still weighs a
little), while evenly spaced requests at ``limit - 1`` per ``period`` are never refused.

Storage: the counters live in the default cache (Redis in production, see CACHE_URL). With
Django's RedisCache a request costs one pipelined round trip (INCR the current window, EXPIRE it,
GET the previous window) through a redis-py client kept per process and built on first use from
the cache's LOCATION and OPTIONS (its pool reconnects after a fork); a refused request costs one
more (DECR). Other backends (locmem in local mode and tests) go through the cache API. When the
counter store fails the request is admitted and a warning logged at most once a minute: a rate
limit must not take ingest down with it.
"""

import functools
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# The time source; tests replace it to step over window edges without sleeping.
clock: Callable[[], float] = time.time

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^(\d+)/(s|sec|second|m|min|minute|h|hour|d|day)$")

# One warning per this many seconds while the counter store is down, not one per request.
_WARNING_INTERVAL_SECONDS = 60.0
_last_warning = -math.inf

# Without a timeout a Redis that stops answering (not refusing) would hold every request for
# the OS connect timeout; a slow answer costs at most this, then the request is admitted.
_DEFAULT_SOCKET_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: float | None = None  # set when refused


ADMITTED = Decision(allowed=True)


@functools.lru_cache(maxsize=256)  # called per request with the same few strings
def parse_rate(text: str) -> Rate:
    """``"600/min"``, ``"20/s"``, ``"2/hour"`` (the forms ApiClient.rate_limit accepts)."""
    match = _RATE.match(text.strip())
    if match is None:
        raise ValueError(f"Not a rate like 600/min: {text!r}")
    return Rate(limit=int(match[1]), period=_PERIODS[match[2][0]])


def weighted_count(previous: int, current: int, elapsed: float, period: int) -> float:
    """The sliding-window estimate at ``elapsed`` seconds into the current window."""
    return previous * (period - elapsed) / period + current


def is_allowed(previous: int, current: int, elapsed: float, rate: Rate) -> bool:
    """Whether a request is admitted; ``current`` counts it. Compared without dividing."""
    return previous * (rate.period - elapsed) + current * rate.period <= rate.limit * rate.period


def seconds_until_allowed(previous: int, admitted: int, elapsed: float, rate: Rate) -> float:
    """How long until one more request would be admitted, if no other one comes in.

    ``admitted`` counts the requests admitted in the current window so far. The answer is the
    first time the next request fits: later in this window once the previous window's weight has
    shrunk enough, or, when this window is full, in the next one, where this window's count
    becomes the weighted previous one.
    """
    limit, period = rate.limit, rate.period
    if limit < 1:
        return period - elapsed  # nothing is ever admitted; look again next window
    room = limit - admitted - 1  # what the previous window's weight may still take
    if room >= 0:
        if previous <= room:
            return 0.0
        fits_at = period * (previous - room) / previous
        return max(0.0, fits_at - elapsed)
    fits_at_next = period * (admitted - limit + 1) / admitted
    return period - elapsed + fits_at_next


def take(subject: str, rate: Rate, now: float | None = None) -> Decision:
    """Count one request of ``subject`` (like ``bridge:throttle:<client id>``) against ``rate``."""
    now = clock() if now is None else now
    window, elapsed = divmod(now, rate.period)
    current_key = f"{subject}:{rate.period}:{int(window)}"
    previous_key = f"{subject}:{rate.period}:{int(window) - 1}"
    try:
        counters = _counters()
        previous, current = counters.count(current_key, previous_key, 2 * rate.period + 1)
        if is_allowed(previous, current, elapsed, rate):
            return ADMITTED
        counters.give_back(current_key)
    except Exception as exc:  # any store failure: admit (see the module docstring)
        _warn_unavailable(exc, now)
        return ADMITTED
    wait = seconds_until_allowed(previous, current - 1, elapsed, rate)
    return Decision(allowed=False, retry_after_seconds=wait)


class _Counters(Protocol):
    def count(self, current_key: str, previous_key: str, ttl: int) -> tuple[int, int]: ...

    def give_back(self, current_key: str) -> None: ...


class _CacheCounters:
    """Through Django's cache API: any backend, a few calls per request."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    def count(self, current_key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        self._cache.add(current_key, 0, timeout=ttl)
        current = self._cache.incr(current_key)
        return int(self._cache.get(previous_key, 0)), current

    def give_back(self, current_key: str) -> None:
        self._cache.decr(current_key)


class _RedisCounters:
    """Straight to Redis: one pipelined round trip per request, keys named as the cache would."""

    def __init__(self, cache: BaseCache, client: Any) -> None:
        self._cache = cache
        self._client = client

    def count(self, current_key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        # No MULTI/EXEC: each command is atomic on its own, and a count read a microsecond
        # late changes nothing a rate limit cares about.
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(self._cache.make_key(current_key))
        pipe.expire(self._cache.make_key(current_key), ttl)
        pipe.get(self._cache.make_key(previous_key))
        current, _, previous = pipe.execute()
        return int(previous or 0), int(current)

    def give_back(self, current_key: str) -> None:
        self._client.decr(self._cache.make_key(current_key))


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _counters() -> _Counters:
    cache = caches[DEFAULT_CACHE_ALIAS]
    # Exactly Django's class: a subclass may shard or serialise differently.
    if type(cache) is RedisCache:
        return _RedisCounters(cache, _redis_client(settings.CACHES[DEFAULT_CACHE_ALIAS]))
    return _CacheCounters(cache)


def _redis_client(config: dict[str, Any]) -> Any:
    """The process's redis-py client for this cache configuration, made on first use.

    Made lazily (never at import, so never in a gunicorn master before it forks); its pool
    notices a fork by pid and opens fresh connections in the child.
    """
    location = config["LOCATION"]
    servers = re.split("[;,]", location) if isinstance(location, str) else list(location)
    options = dict(config.get("OPTIONS", {}))
    key = (servers[0], repr(sorted(options.items())))  # the first server takes the writes
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _new_redis_client(servers[0], options)
    return client


def _new_redis_client(url: str, options: dict[str, Any]) -> Any:
    import redis  # needed only with a Redis cache

    options.pop("serializer", None)  # the counters are plain integers, as RedisCache stores them
    pool_class = options.pop("pool_class", None) or redis.ConnectionPool
    if isinstance(pool_class, str):
        pool_class = import_string(pool_class)
    if isinstance(options.get("parser_class"), str):
        options["parser_class"] = import_string(options["parser_class"])
    options.setdefault("socket_connect_timeout", _DEFAULT_SOCKET_TIMEOUT_SECONDS)
    options.setdefault("socket_timeout", _DEFAULT_SOCKET_TIMEOUT_SECONDS)
    return redis.Redis(connection_pool=pool_class.from_url(url, **options))


def _warn_unavailable(exc: Exception, now: float) -> None:
    global _last_warning
    if abs(now - _last_warning) < _WARNING_INTERVAL_SECONDS:  # abs: clocks may step back
        return
    _last_warning = now
    logger.warning(
        "Rate-limit counters unavailable (%s: %s); admitting requests unthrottled",
        type(exc).__name__,
        exc,
    )
