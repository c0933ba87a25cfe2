"""The two configuration lookups every API request makes, kept briefly in each process.

Each ingest needs the API client behind its token and the mapping set behind its slug (with its
environment, credential and whether the client may use it). Reading them from the database
on every request would cost two round trips and the ORM building the rows, a large share of an
async ingest, for data that changes rarely; so each process keeps what it read for
``API_CONFIG_CACHE_SECONDS`` (default 3; 0 reads on every request).

Freshness: a save or delete of any configuration model in this process clears the whole cache at
once (the receivers are in mappings/signals.py; ``MappingSet.touch`` and ``bump_version``, which
write with ``update()``, send ``config_changed``).
Other web processes see the change within ``API_CONFIG_CACHE_SECONDS``: a revoked or expired
token, a mapping-set edit or a removed permission takes that long at most to reach them.
Expiry (``expires_at``) and ``is_active`` are still checked on every request against the cached
row, so an expiry date passes on time.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.conf import settings

from mappings.models import ApiClient, MappingSet
from mappings.models.config import hash_token

MAX_ENTRIES = 1_000  # per kind: tokens and (client, slug) pairs; bounded against odd traffic

Value = TypeVar("Value")


class _ExpiringCache:
    """A dict whose entries expire; thread-safe (gunicorn threads share a process)."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], Value | None]) -> Value | None:
        seconds = settings.API_CONFIG_CACHE_SECONDS
        if seconds <= 0:
            return load()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]  # type: ignore[return-value]
        value = load()
        if value is not None:  # unknown tokens and slugs are not kept: nothing to grow on
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (now + seconds, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_clients = _ExpiringCache()
_mapping_sets = _ExpiringCache()


def client_for_token(token: str) -> ApiClient | None:
    """The API client whose token this is, active or not (the caller checks), or None."""
    token_hash = hash_token(token)
    return _clients.get_or_load(
        token_hash, lambda: ApiClient.objects.filter(token_hash=token_hash).first()
    )


def mapping_set_for(client: ApiClient, slug: str) -> MappingSet | None:
    """The mapping set with this slug, its environment and credential, annotated with
    ``client_may_use`` for this client (one query on a miss), or None."""

    def load() -> MappingSet | None:
        return (
            MappingSet.objects.select_related("environment__credential")
            .annotate(client_may_use=client.may_use_expression())
            .filter(slug=slug)
            .first()
        )

    return _mapping_sets.get_or_load((client.pk, slug), load)


def forget() -> None:
    """Drop everything this process keeps (configuration changed; tests)."""
    _clients.clear()
    _mapping_sets.clear()
