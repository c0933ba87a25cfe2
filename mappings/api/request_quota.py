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

Reserving in chunks, so that a busy client does not cost a round trip per request: a process
counts ``chunk_size(rate)`` units at once and, when the whole chunk fits (``is_allowed`` with
``current`` counting all of it), admits this request and keeps the rest of the chunk for the next
requests of the same subject in the same window, which it admits with no round trip. That is
sound because within a window the previous window's weight only shrinks: units that fit together
now still fit later in the window. When a chunk does not fit, all of it but one unit is given back
at once, which leaves the count exactly as counting this request alone would have; the decision
and Retry-After are then the ones without chunks, and the process counts one by one for as long
as the count says a chunk would not fit. So near the limit nothing changes. Rates under
``CHUNK_DIVISOR * 2`` per period have a chunk of 1 and work exactly as without chunks. The cost,
a third bound next to the two above:

- fewer: units still reserved when their window ends are not carried into the next window; they
  count as used (and weigh in the next window as its ``previous``). A process holds at most one
  partly used chunk per subject, so each process can make the limit stricter by up to
  ``chunk - 1`` per window: at most 1% of ``limit`` and ``CHUNK_CAP - 1`` requests.

A chunk that is counted and then given back is counted for the moment between the two; someone
else's request counted in that moment can be refused where it would otherwise have fitted, as
with a refused request (also counted, then given back). It stays rare: a process tries a chunk
only when its last count said one would fit.

Storage: the counters live in the default cache (Redis in production, see CACHE_URL). With
Django's RedisCache a count (of one request or of a chunk) costs one pipelined round trip (INCRBY
the current window, EXPIRE it, GET the previous window) through a redis-py client kept per
process and built on first use from the cache's LOCATION and OPTIONS (its pool reconnects after a
fork); a refused request costs one more (DECRBY), as does a chunk that does not fit. Other
backends (locmem in local mode and tests) go through the cache API. When the counter store fails
the request is admitted and a warning logged at most once a minute: a rate limit must not take
ingest down with it.
"""

import functools
import logging
import math
import os
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

# Reserving in chunks (see the module docstring): a process counts a chunk of a client's requests
# in one round trip, then admits that many with none. A chunk is limit // CHUNK_DIVISOR, at least
# 1 and at most CHUNK_CAP: rates under 200 per period keep one round trip per request, exactly as
# without chunks (3/min, 60/min, 199/min); 600/min takes 6 at once, 100000/min 64. Reserved units
# still unused when their window ends count as used, so each process can make the limit stricter
# by chunk - 1 in a window: at most 1% of it (chunk <= limit / CHUNK_DIVISOR), never more than
# CHUNK_CAP - 1 requests. The cap also bounds how long a quiet process sits on units it holds.
CHUNK_DIVISOR = 100
CHUNK_CAP = 64
# Subjects (API clients) with units reserved at once; past it, units of past windows are dropped.
_MAX_RESERVES = 10_000


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


def chunk_size(rate: Rate) -> int:
    """How many requests a process reserves at once for ``rate`` (1: a round trip for each)."""
    return max(1, min(CHUNK_CAP, rate.limit // CHUNK_DIVISOR))


def take(subject: str, rate: Rate, now: float | None = None) -> Decision:
    """Count one request of ``subject`` (like ``bridge:throttle:<client id>``) against ``rate``."""
    now = clock() if now is None else now
    window_float, elapsed = divmod(now, rate.period)
    window = int(window_float)
    chunk = chunk_size(rate)
    asked = _reserves.next_amount(subject, rate, window, chunk, now) if chunk > 1 else 1
    if asked == 0:
        return ADMITTED  # a unit this process reserved earlier in this window: no round trip
    current_key = f"{subject}:{rate.period}:{window}"
    previous_key = f"{subject}:{rate.period}:{window - 1}"
    try:
        counters = _counters()
        previous, current = counters.count(current_key, previous_key, 2 * rate.period + 1, asked)
        kept = asked
        if kept > 1 and not is_allowed(previous, current, elapsed, rate):
            # The chunk does not fit. Keeping one unit of it leaves the count exactly as this
            # request alone would have (the live count, others' included): from here on the
            # decision is the one without chunks, so near the limit nothing changes.
            current = counters.give_back(current_key, kept - 1)
            kept = 1
        allowed = is_allowed(previous, current, elapsed, rate)
        if not allowed:
            counters.give_back(current_key, 1)
            current -= 1
    except Exception as exc:  # any store failure: admit (see the module docstring)
        if chunk > 1:
            _reserves.settle(subject, rate, window, asked > 1, 0, None)
        _warn_unavailable(exc, now)
        return ADMITTED
    if chunk > 1:
        # Near the limit a chunk counted and then given back costs a second round trip, so
        # while the count says a next chunk would not fit, this process counts one by one.
        chunk_fits = is_allowed(previous, current + chunk, elapsed, rate)
        _reserves.settle(subject, rate, window, asked > 1, kept - 1, not chunk_fits)
    if allowed:
        return ADMITTED
    wait = seconds_until_allowed(previous, current, elapsed, rate)
    return Decision(allowed=False, retry_after_seconds=wait)


def forget() -> None:
    """Drop this process's reserved units and remembered counter store (tests)."""
    global _redis_counters
    _reserves.clear()
    _redis_counters = None


@dataclass
class _Reserve:
    window: int
    limit: int
    left: int = 0  # counted in the store for this window, not yet used by a request
    one_by_one: bool = False  # the last count said a whole chunk would not fit
    # A thread is counting a chunk for it right now. Should that thread die between the two
    # steps, the flag stays: the rest of the window is counted one by one, no unit is lost.
    reserving: bool = False


class _Reserves:
    """This process's reserved units, per subject and period, for the current window only.

    One chunk at a time per subject: while a thread counts one, the others count one by one
    (each would make a round trip anyway), so at a window's end a process holds at most
    chunk - 1 unused units of a subject, however many threads it runs.
    """

    def __init__(self) -> None:
        self._reserves: dict[tuple[str, int], _Reserve] = {}
        # gthread workers serve several requests at once; a unit must be used once only.
        self._lock = threading.Lock()

    def next_amount(self, subject: str, rate: Rate, window: int, chunk: int, now: float) -> int:
        """0 when a reserved unit admits the request, else how many units to count in the store."""
        key = (subject, rate.period)
        with self._lock:
            reserve = self._reserves.get(key)
            if reserve is None or reserve.window != window or reserve.limit != rate.limit:
                # Units of another window (or limit) are never used: they lapse here.
                if reserve is None and len(self._reserves) >= _MAX_RESERVES:
                    self._drop_past_windows(now)
                    if len(self._reserves) >= _MAX_RESERVES:
                        return 1
                self._reserves[key] = _Reserve(window, rate.limit, reserving=True)
                return chunk
            if reserve.left > 0:
                reserve.left -= 1
                return 0
            if reserve.one_by_one or reserve.reserving:
                return 1
            reserve.reserving = True
            return chunk

    def settle(
        self,
        subject: str,
        rate: Rate,
        window: int,
        reserved: bool,
        left: int,
        one_by_one: bool | None,
    ) -> None:
        """After a count: ``reserved`` if it was a chunk, ``left`` units of it kept for later."""
        with self._lock:
            reserve = self._reserves.get((subject, rate.period))
            if reserve is None or reserve.window != window or reserve.limit != rate.limit:
                return  # another thread has moved on to the next window: these units lapse
            if reserved:
                reserve.reserving = False
            reserve.left += left
            if one_by_one is not None:
                reserve.one_by_one = one_by_one

    def _drop_past_windows(self, now: float) -> None:
        for (subject, period), reserve in list(self._reserves.items()):
            if reserve.window < now // period:
                del self._reserves[subject, period]

    def clear(self) -> None:
        with self._lock:
            self._reserves.clear()

    def start_afresh(self) -> None:
        """In a forked child: its parent's units are not its own (a fresh lock too: another
        thread may have held the parent's at the fork, and it is not there to release it)."""
        self._lock = threading.Lock()
        self._reserves = {}


_reserves = _Reserves()
os.register_at_fork(after_in_child=_reserves.start_afresh)


class _Counters(Protocol):
    def count(self, current_key: str, previous_key: str, ttl: int, amount: int) -> tuple[int, int]:
        """Add ``amount`` to the current window; its count after that, and the previous one's."""
        ...

    def give_back(self, current_key: str, amount: int) -> int:
        """Take ``amount`` off the current window; its count after that."""
        ...


class _CacheCounters:
    """Through Django's cache API: any backend, a few calls per request."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    def count(self, current_key: str, previous_key: str, ttl: int, amount: int) -> tuple[int, int]:
        self._cache.add(current_key, 0, timeout=ttl)
        current = self._cache.incr(current_key, amount)
        return int(self._cache.get(previous_key, 0)), int(current)

    def give_back(self, current_key: str, amount: int) -> int:
        return int(self._cache.decr(current_key, amount))


class _RedisCounters:
    """Straight to Redis: one pipelined round trip per request, keys named as the cache would."""

    def __init__(self, cache: BaseCache, client: Any) -> None:
        self._cache = cache
        self._client = client

    def count(self, current_key: str, previous_key: str, ttl: int, amount: int) -> tuple[int, int]:
        # No MULTI/EXEC: each command is atomic on its own, and a count read a microsecond
        # late changes nothing a rate limit cares about.
        pipe = self._client.pipeline(transaction=False)
        pipe.incrby(self._cache.make_key(current_key), amount)
        pipe.expire(self._cache.make_key(current_key), ttl)
        pipe.get(self._cache.make_key(previous_key))
        current, _, previous = pipe.execute()
        return int(previous or 0), int(current)

    def give_back(self, current_key: str, amount: int) -> int:
        return int(self._client.decrby(self._cache.make_key(current_key), amount))


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()

# The Redis counters and the CACHES entry they were made for: a changed setting is a new dict
# (override_settings, the tests' settings fixture), so an identity check notices it.
_redis_counters: tuple[dict[str, Any], _RedisCounters] | None = None


def _counters() -> _Counters:
    global _redis_counters
    config = settings.CACHES[DEFAULT_CACHE_ALIAS]
    made = _redis_counters
    if made is not None and made[0] is config:
        return made[1]
    cache = caches[DEFAULT_CACHE_ALIAS]
    # Exactly Django's class: a subclass may shard or serialise differently.
    if type(cache) is RedisCache:
        # Shared by all threads: it uses the cache object only to name keys (no state).
        counters = _RedisCounters(cache, _redis_client(config))
        _redis_counters = (config, counters)
        return counters
    return _CacheCounters(cache)  # per thread, as Django's cache objects are


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
