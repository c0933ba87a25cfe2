"""The environment's /users/export/ids requests per minute, shared by every process.

Braze allows a workspace 250 export requests a minute and answers 429 past them; a bot waiting
on a lookup cannot wait out a minute, so we count our own requests and stop before Braze would.

The count is a sliding window kept in the default cache (Redis in production) as ``SLOTS``
counters of ``60 / SLOTS`` seconds each. A request is admitted when
the current slot and the ``SLOTS`` before it (one more than a minute) hold fewer than the limit,
so no 60-second span, wherever it starts (Braze's fixed window starts when it likes), ever holds
more than the limit. The cost is up to one slot's worth of the budget left unused. Counting is
``incr`` then a read of the other slots: two processes racing at the limit may both give theirs
back (both refused), never both go over.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

PERIOD_SECONDS = 60
SLOTS = 10
_SLOT_SECONDS = PERIOD_SECONDS / SLOTS


def _slot_key(environment_id: int, slot: int) -> str:
    return f"lookup:export-budget:{environment_id}:{slot}"


def try_spend(environment_id: int, limit: int | None = None, now: float | None = None) -> bool:
    """Count one export request for the environment; False (nothing counted) when it would go
    over ``limit`` (``LOOKUP_EXPORT_RATE_PER_MINUTE``) in some minute."""
    limit = settings.LOOKUP_EXPORT_RATE_PER_MINUTE if limit is None else limit
    current = int((time.time() if now is None else now) // _SLOT_SECONDS)
    this_key = _slot_key(environment_id, current)
    keys = [_slot_key(environment_id, slot) for slot in range(current - SLOTS, current)]
    try:
        cache.add(this_key, 0, timeout=PERIOD_SECONDS * 2)
        counted = cache.incr(this_key)
        earlier = sum(int(count) for count in cache.get_many(keys).values())
        if counted + earlier > limit:
            cache.decr(this_key)
            return False
    except Exception:
        # A budget we cannot count is spent: Braze's 429 is the bot's loss either way, and a
        # lookup answered "unknown" costs a bot less than one blocked.
        logger.warning("export budget unreadable: lookups answer from cache", exc_info=True)
        return False
    return True


def spent(environment_id: int, now: float | None = None) -> int:
    """Export requests counted in the window that ends now (for tests and the benchmark)."""
    current = int((time.time() if now is None else now) // _SLOT_SECONDS)
    keys = [_slot_key(environment_id, slot) for slot in range(current - SLOTS, current + 1)]
    return sum(int(count) for count in cache.get_many(keys).values())
