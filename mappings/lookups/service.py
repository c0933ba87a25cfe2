"""One lookup: the conversation's user, their profile from our cache or Braze, the bot's names.

``lookup`` never raises for Braze's sake and never waits past the caller's deadline: every way a
read can end is an answer the flow can branch on (``LookupAnswer.status`` and ``.outcome``), and
each is logged in a ``Lookup`` row (who asked, which fields, how it ended, how long it took; no
profile values).
"""

import logging
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.db import connection

from mappings import profile_cache, row_insert
from mappings.delivery import braze
from mappings.engine import lookup_mapping, mapping
from mappings.engine.lookup_mapping import CompiledLookup, LookupAnswer
from mappings.engine.spec import MappingSpec
from mappings.lookups import export_budget
from mappings.lookups.export_batcher import ExportBatcher
from mappings.models import Environment, Lookup, LookupOutcome, MappingSet

logger = logging.getLogger(__name__)

BATCHER = ExportBatcher(lambda: settings.LOOKUP_BATCH_WINDOW_SECONDS)
_COMPILED: dict[tuple, CompiledLookup] = {}
_COMPILED_LOCK = threading.Lock()


class LookupNotConfigured(ValueError):
    """The mapping set has no read rows, or identifies users in a way export cannot read."""


class BudgetSpent(Exception):
    """The environment's export requests for this minute are spent: no request was made."""


def lookup(
    mapping_set: MappingSet,
    conversation: Any,
    *,
    api_client=None,
    platform: str = "",
    arrived_at: float,
    budget_seconds: float,
) -> LookupAnswer:
    """The mapped profile fields of the conversation's user, within ``budget_seconds`` of
    ``arrived_at`` (``time.monotonic()``). Raises ``LookupNotConfigured`` only."""
    compiled = compiled_rows(mapping_set)
    external_id = _identify(mapping_set, conversation)
    fields = compiled.fields_to_export
    if external_id is None:
        answer = _unknown(
            LookupOutcome.UNIDENTIFIED, "The conversation holds no usable user identifier"
        )
    else:
        answer = _answer(mapping_set, compiled, external_id, arrived_at + budget_seconds)
    latency_ms = int((time.monotonic() - arrived_at) * 1000)
    _record(
        Lookup(
            mapping_set=mapping_set, environment_id=mapping_set.environment_id,
            api_client=api_client, platform=platform, external_id=external_id or "",
            fields=list(fields), outcome=answer.outcome, latency_ms=latency_ms,
            detail=answer.message[:500],
        )
    )  # fmt: skip
    return answer


def _record(row: Lookup) -> None:
    """Save the lookup's log row. A cache hit's row is committed without waiting for the disk
    on PostgreSQL (``synchronous_commit`` off for its own transaction only): under the bench's
    50 bots that wait was most of a hit's added time (bench/lookups.py: a committed INSERT took
    4 ms at the median, 0.2 ms without it). A database crash may then lose the last fraction of
    a second of hit rows; rows of lookups that called Braze, and every delivery, commit as
    usual. Inside a caller's transaction the setting would reach the caller's writes, and a
    server-side binding cursor takes one statement per call, so the row is then saved as usual."""
    waits_for_disk = (
        row.outcome != LookupOutcome.HIT
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
        or connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    )
    if waits_for_disk:
        row.save(force_insert=True)
        return
    _insert_without_waiting_for_disk(row)


def _insert_without_waiting_for_disk(row: Lookup) -> None:
    """One round trip: the setting and the INSERT sent as one simple query, which PostgreSQL
    runs as one implicit transaction, so SET LOCAL ends with it. A save in a transaction of its
    own took four round trips (BEGIN, SET, INSERT, COMMIT): about 1.0 ms against 0.5 ms for
    this in one process; in bench/lookups.py a hit's gunicorn CPU went from 3.5 ms to 1.8-2.9
    ms. The columns and values are the ORM's own (each field's ``pre_save`` and
    ``get_db_prep_save``), as ``save`` would send them (mappings/row_insert.py)."""
    insert = row_insert.insert_sql(Lookup, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SET LOCAL synchronous_commit TO OFF; {insert}",
            row_insert.prepared_values(connection, row),
        )


def compiled_rows(mapping_set: MappingSet) -> CompiledLookup:
    """The set's read rows, compiled once per change of the set (rows touch it on save)."""
    if mapping_set.identifier_type != "external_id":
        raise LookupNotConfigured("Lookups read users by external_id; this set identifies "
                                  f"them by {mapping_set.identifier_type}")  # fmt: skip
    key = (mapping_set.pk, mapping_set.updated_at)
    with _COMPILED_LOCK:
        compiled = _COMPILED.get(key)
    if compiled is None:
        rows = [row.to_spec() for row in mapping_set.lookup_fields.all()]
        compiled = lookup_mapping.compile_lookup(rows)
        with _COMPILED_LOCK:
            if len(_COMPILED) > 256:
                _COMPILED.clear()
            _COMPILED[key] = compiled
    if not compiled.rows:
        raise LookupNotConfigured(f"Mapping set '{mapping_set.slug}' has no lookup fields")
    return compiled


def _identify(mapping_set: MappingSet, conversation: Any) -> str | None:
    """The user's external id as writes find it (the set's path and identifier transforms)."""
    key = ("lookup-identifier", mapping_set.pk, mapping_set.version, mapping_set.updated_at)

    def spec() -> MappingSpec:
        return MappingSpec(
            identifier_path=mapping_set.identifier_source_path, rows=(),
            identifier_transforms=tuple(mapping_set.identifier_transforms or ()),
        )  # fmt: skip

    result = mapping.cached_compile(key, spec).run(conversation)
    return None if result.external_id is None else str(result.external_id)


def _answer(
    mapping_set: MappingSet, compiled: CompiledLookup, external_id: str, deadline: float
) -> LookupAnswer:
    environment_id = mapping_set.environment_id
    fields = compiled.fields_to_export
    entry = profile_cache.read(environment_id, external_id)
    usable = entry if entry is not None and entry.covers(fields) else None
    if usable is not None and usable.is_fresh(mapping_set.lookup_ttl_seconds):
        return _found(compiled, usable.user, LookupOutcome.HIT, "cache")
    run = _export_run(mapping_set.environment, fields, mapping_set.lookup_ttl_seconds)
    if run is None:
        return _unknown(LookupOutcome.BRAZE_REFUSED, "The environment has no usable Braze API key")
    future = BATCHER.read((environment_id, fields), external_id, deadline, run)
    try:
        user = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return _unknown(LookupOutcome.BRAZE_SLOW, "Braze did not answer within the bot's budget")
    except BudgetSpent:
        return _rate_limited(compiled, usable, "our export budget for this minute is spent")
    except braze.BrazeError as error:
        return _braze_failure(compiled, usable, error)
    return _found(compiled, user, LookupOutcome.MISS, "braze")


def _unknown(outcome: str, message: str) -> LookupAnswer:
    return LookupAnswer("unknown", outcome, None, message=message)


def _found(compiled: CompiledLookup, user: dict | None, outcome: str, source: str):
    if user is None:
        return LookupAnswer("not_found", LookupOutcome.NOT_FOUND, source)
    read = lookup_mapping.read_profile(compiled, user)
    message = "; ".join(f"{p.bot_name}: {p.reason}" for p in read.problems)
    return LookupAnswer("found", outcome, source, read.values, message)


def _rate_limited(compiled: CompiledLookup, stale, why: str) -> LookupAnswer:
    if stale is None:
        return _unknown(
            LookupOutcome.RATE_LIMITED_UNKNOWN, f"Not read from Braze: {why}, and nothing is cached"
        )
    answer = _found(compiled, stale.user, LookupOutcome.RATE_LIMITED_FROM_CACHE, "cache")
    outcome = LookupOutcome.RATE_LIMITED_FROM_CACHE
    message = f"From our cache, read {int(time.time() - stale.read_at)} s ago: {why}"
    return LookupAnswer(answer.status, outcome, "cache", answer.fields, message)


def _braze_failure(compiled: CompiledLookup, stale, error: braze.BrazeError) -> LookupAnswer:
    if error.status == 429:
        return _rate_limited(compiled, stale, "Braze answered 429 (its export rate limit)")
    if error.permanent:
        return _unknown(LookupOutcome.BRAZE_REFUSED, f"Braze refused the export: {error}")
    return _unknown(LookupOutcome.BRAZE_SLOW, f"Braze could not answer in time: {error}")


def _export_run(environment: Environment, fields: tuple[str, ...], ttl_seconds: float):
    """The request a batch of this environment's lookups makes: counted against the shared
    budget first, its answers kept in the cache for every process. None without a usable key.

    The key is read here, on the request's thread: the batch's thread touches no database."""
    try:
        endpoint, api_key = environment.rest_endpoint, environment.credential.api_key()
    except Exception:  # no credential row, or a key that no longer decrypts
        logger.warning("lookup: no usable Braze key for environment %s", environment.pk)
        return None

    def run(external_ids: list[str], deadline: float) -> dict[str, Any]:
        if not export_budget.try_spend(environment.pk):
            raise BudgetSpent()
        asked_at = time.time()
        answer = braze.export_users(
            endpoint, api_key, fields_to_export=fields, external_ids=external_ids,
            deadline=deadline,
        )  # fmt: skip
        found = {str(user.get("external_id")): user for user in answer.users}
        results = {external_id: found.get(external_id) for external_id in external_ids}
        for external_id, user in results.items():
            profile_cache.store(environment.pk, external_id, fields, user, ttl_seconds, asked_at)
        return results

    return run
