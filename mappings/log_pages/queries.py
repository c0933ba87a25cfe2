"""Reading the delivery log: keyset pages, newest first, and search.

The log grows to millions of rows, so pages never ask the database for a total (Django's
paginator runs COUNT(*), a full scan) nor for an OFFSET (which reads every skipped row). A page
is "the next N rows after this (created_at, id)", served by the (..., created_at, id) indexes.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError, connections, transaction
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from mappings.models import Delivery, DeliveryAttempt


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    pk: Any

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.pk}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def of(cls, row: Model) -> "Cursor":
        return cls(row.created_at, row.pk)

    @classmethod
    def decode(cls, text: str, model: type[Model]) -> "Cursor | None":
        """The cursor in ``text``, or None when it is not one of ours (a first page then)."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            created_at, pk = raw.split("|", 1)
            return cls(datetime.fromisoformat(created_at), model._meta.pk.to_python(pk))
        except (ValueError, binascii.Error, ValidationError):
            return None


@dataclass(frozen=True)
class LogPage:
    rows: list[Model]
    older: str | None  # cursor of the next page down (older rows), None at the end
    newer: str | None  # cursor of the page above (newer rows), None on the first page


def keyset_page(
    queryset: QuerySet, *, older_than: str | None = None, newer_than: str | None = None, size: int
) -> LogPage:
    """One page of ``queryset``, newest first, after or before a cursor."""
    model = queryset.model
    if newer_than and (cursor := Cursor.decode(newer_than, model)):
        return _newer_page(queryset, cursor, size)
    cursor = Cursor.decode(older_than, model) if older_than else None
    if cursor:
        queryset = queryset.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(pk__lt=cursor.pk)
        )
    rows = first_rows(queryset.order_by("-created_at", "-pk"), size + 1)
    older = Cursor.of(rows[size - 1]).encode() if len(rows) > size else None
    rows = rows[:size]
    newer = Cursor.of(rows[0]).encode() if cursor and rows else None
    return LogPage(rows, older, newer)


def _newer_page(queryset: QuerySet, cursor: Cursor, size: int) -> LogPage:
    queryset = queryset.filter(created_at__gte=cursor.created_at).filter(
        Q(created_at__gt=cursor.created_at) | Q(pk__gt=cursor.pk)
    )
    rows = first_rows(queryset.order_by("created_at", "pk"), size + 1)
    newer = Cursor.of(rows[size - 1]).encode() if len(rows) > size else None
    rows = list(reversed(rows[:size]))
    older = Cursor.of(rows[-1]).encode() if rows else None
    return LogPage(rows, older, newer)


# How long PostgreSQL may walk a time index for a filtered page before the other plan is tried.
# The walk reads about 2,200 rows a millisecond (EXPLAIN ANALYZE of the worst case on
# bench/log_pages.py's table: 1,000,000 rows in 454 ms), so a walk that runs out found fewer
# than 51 matches in ~90,000 rows: filters that rare are read quicker by the other plan, and a
# walk that finds its page never comes near the limit.
ORDERED_WALK_MS = 40
_QUERY_CANCELED = "57014"


def first_rows(ordered: QuerySet, limit: int) -> list[Model]:
    """The first ``limit`` rows of ``ordered``: on PostgreSQL, filtered pages get a bounded walk.

    The planner serves "filtered, newest first, first 51" by walking a (column, created_at)
    index and checking the other filters row by row, betting that matches come soon. For two
    filters that seldom or never match together the walk reads the whole index (454 ms on
    1,000,000 rows). So the walk gets ``ORDERED_WALK_MS``; when it runs out, the same query
    runs without plain index scans: the planner then reads the filters' indexes as bitmaps, or
    the table in one parallel pass, and sorts what matched (bench/log_pages.py, worst case:
    about 190 ms on 1,000,000 rows). Both plans return the same rows in the same order."""
    database = connections[ordered.db]
    if database.vendor != "postgresql" or not ordered.query.where:
        return list(ordered[:limit])
    try:
        return _with_setting(database, ordered[:limit], "statement_timeout", ORDERED_WALK_MS)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != _QUERY_CANCELED:
            raise
    return _with_setting(database, ordered[:limit], "enable_indexscan", "off")


def _with_setting(database, queryset: QuerySet, name: str, value: object) -> list[Model]:
    """``queryset``'s rows read with one planner or limit setting that ends with this read: set
    LOCAL inside a savepoint and put back, so a caller's transaction keeps its own value."""
    with transaction.atomic(using=database.alias), database.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, str(value)]
        )
        previous = cursor.fetchone()[0]
        rows = list(queryset)
        cursor.execute("SELECT set_config(%s, %s, true)", [name, previous])
    return rows


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def delivery_search(text: str) -> Q:
    """Exact match on user identifier, idempotency key or delivery id (each one index probe)."""
    text = text.strip()
    condition = Q(external_id=text) | Q(idempotency_key=text)
    if delivery_id := _as_uuid(text):
        condition |= Q(pk=delivery_id)
    return condition


def search_deliveries(queryset: QuerySet, text: str) -> QuerySet:
    return queryset.filter(delivery_search(text)) if text.strip() else queryset


def search_attempts(queryset: QuerySet, text: str) -> QuerySet:
    if not text.strip():
        return queryset
    return queryset.filter(delivery_id__in=Delivery.objects.filter(delivery_search(text)))


def with_http_status(queryset: QuerySet, status: int) -> QuerySet:
    """Deliveries that had at least one Braze call answered with ``status``."""
    calls = DeliveryAttempt.objects.filter(delivery=OuterRef("pk"), response_status=status)
    return queryset.filter(Exists(calls))
