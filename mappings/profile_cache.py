"""Exported profiles kept per environment and user, so a bot's repeat lookups skip Braze.

One cache entry per (environment, external id) holds the export fields it was read with, when,
and the user object Braze answered (None: Braze knows no such user). An entry answers a lookup
whose fields it covers; it is fresh for the mapping set's ``lookup_ttl_seconds`` and kept
``LOOKUP_STALE_KEEP_SECONDS`` longer to answer when the export budget is spent. A write we
deliver to the user deletes the entry (``forget``), so the next lookup reads the new value.

The entry lives in the default cache (Redis in production): every process shares it.
"""

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
_PREFIX = "lookup:profile"
_WRITTEN_PREFIX = "lookup:written"
# How long a write's mark is kept: longer than any export request may take (the client's
# BRAZE_REQUEST_DEADLINE_SECONDS is 15 s by default).
_WRITTEN_KEEP_SECONDS = 120


@dataclass(frozen=True)
class Entry:
    fields: frozenset[str]
    read_at: float  # time.time() of Braze's answer
    user: dict[str, Any] | None  # None: not found

    def covers(self, fields: Iterable[str]) -> bool:
        return self.fields.issuperset(fields)

    def is_fresh(self, ttl_seconds: float) -> bool:
        return time.time() - self.read_at < ttl_seconds


def key(environment_id: int, external_id: str, prefix: str = _PREFIX) -> str:
    # Hashed: an external id may hold characters or a length a cache key may not.
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:32]
    return f"{prefix}:{environment_id}:{digest}"


def read(environment_id: int, external_id: str) -> Entry | None:
    try:
        found = cache.get(key(environment_id, external_id))
    except Exception:  # a cache outage is a miss, never a failed lookup
        logger.warning("lookup cache unreadable", exc_info=True)
        return None
    if not isinstance(found, dict):
        return None
    return Entry(frozenset(found["fields"]), found["read_at"], found["user"])


def store(
    environment_id: int,
    external_id: str,
    fields: Iterable[str],
    user: dict[str, Any] | None,
    ttl_seconds: float,
    asked_at: float,
) -> None:
    """Keep Braze's answer for one user: fresh for ``ttl_seconds``, then stale for
    ``LOOKUP_STALE_KEEP_SECONDS`` (answers only when the export budget is spent).

    Not kept when a write to the user was delivered after the export was asked (``asked_at``,
    ``time.time()``): the answer may predate it, and keeping it would undo ``forget``."""
    value = {"fields": sorted(fields), "read_at": time.time(), "user": user}
    timeout = ttl_seconds + settings.LOOKUP_STALE_KEEP_SECONDS
    try:
        written_at = cache.get(key(environment_id, external_id, _WRITTEN_PREFIX))
        if written_at is not None and written_at >= asked_at:
            return
        cache.set(key(environment_id, external_id), value, timeout)
    except Exception:
        logger.warning("lookup cache unwritable", exc_info=True)


def forget(environment_id: int, external_ids: Iterable[str]) -> None:
    """A write reached Braze for these users: their cached profiles are out of date."""
    users = [external_id for external_id in set(external_ids) if external_id]
    if not users:
        return
    marks = {key(environment_id, user, _WRITTEN_PREFIX): time.time() for user in users}
    try:
        cache.set_many(marks, _WRITTEN_KEEP_SECONDS)
        cache.delete_many([key(environment_id, user) for user in users])
    except Exception:
        logger.warning("lookup cache entries not deleted after a write", exc_info=True)
