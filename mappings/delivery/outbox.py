"""The outbox: Delivery rows are the record of truth; workers lease them, the sweep takes back.

A worker claims due rows of one environment by stamping them ``in_flight`` with its own lease
token and an expiry. On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so
concurrent workers pass over each other's rows; on SQLite (one writer at a time) the UPDATE
re-checks the claimable condition itself, an atomic compare-and-set. Either way a row is held by
one token, and every later write filters on that token, so a worker whose lease was taken back
cannot overwrite the new owner's outcome.

Order per user: a delivery is claimable only when no older delivery of the same user in the same
environment is still open, so one user's updates reach Braze in the order they arrived (R13).
"""

import functools
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from mappings.models import Delivery, DeliveryAttempt, DeliveryGate
from mappings.models.audit import OPEN_STATUSES, AttemptOutcome, DeliveryStatus

WAITING_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
INTERRUPTED = "Interrupted: the worker was lost mid-request (Braze may have applied it)"


@dataclass(slots=True)
class LeasedDelivery:
    """What sending needs of one leased delivery: plain values, not a model instance (a claim
    holds hundreds; building Delivery objects with their JSON fields was most of its cost)."""

    pk: uuid.UUID
    created_at: datetime
    environment_id: int
    mapping_set_id: int
    external_id: str
    attempt_count: int
    dedup_attributes: bool


LEASED_FIELDS = (
    "pk",
    "created_at",
    "environment_id",
    "mapping_set_id",
    "external_id",
    "attempt_count",
    "mapping_set__dedup_unchanged_attributes",
)


def add(delivery: Delivery) -> None:
    """Write a new Delivery row: one INSERT, in the caller's transaction or its own.

    Every ingest writes one, so the statement is built once per process, where ``save()`` built
    it anew each time. Values are prepared as ``save()`` prepares them (each field's
    ``pre_save`` for the timestamps, its database preparation), except where that preparation
    is known to return the value as it is (see ``_Column``). No signal is sent (nothing listens
    to Delivery's).
    """
    # The real connection, looked up once: every attribute read through the ``connection``
    # proxy is a thread-local lookup, and Django's per-field preparation reads it several times.
    db = connections[DEFAULT_DB_ALIAS]
    params = [
        column.prepared(
            db,
            column.field.pre_save(delivery, True)
            if column.stamped
            else getattr(delivery, column.attname),
        )
        for column in _columns(db.vendor)
    ]
    _execute_insert(db, params)
    delivery._state.adding = False
    delivery._state.db = db.alias


def _execute_insert(db, params: list[Any]) -> None:
    """Run the INSERT. On PostgreSQL, with a cursor that binds values server-side: psycopg sends
    the row's values beside the statement, where Django's default cursor quotes each one into
    the statement's text, which costs the web process more CPU per INSERT. Only here:
    server-side binding for every query would cap a statement at 65,535 values, and Django's
    bulk deletes go past that.

    That cursor is kept for the thread's next INSERT on the same connection: psycopg keeps the
    statement's parsed form and the adapters it chose per cursor, so a new cursor per ingest
    redid both. Wrapped each time as ``connection.cursor()`` wraps its own (same health check,
    error translation and query logging; ``_prepare_cursor`` is Django's own step for that,
    private, so the PostgreSQL tests of this INSERT pin it), so the INSERT is seen wherever
    queries are counted."""
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(_insert_sql(), params)
        return
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        db._prepare_cursor(_kept_cursor(db.connection)).execute(_insert_sql(), params)


# Per thread, as Django's connections are: the INSERT's cursor, used while its psycopg
# connection is still the thread's.
_kept = threading.local()


def _kept_cursor(raw_connection):
    kept = getattr(_kept, "cursor", None)
    if kept is None or kept.connection is not raw_connection or kept.closed:
        from django.db.backends.postgresql.base import ServerBindingCursor

        kept = _kept.cursor = ServerBindingCursor(raw_connection)
    return kept


@dataclass(frozen=True, slots=True)
class _Column:
    """One column of the INSERT and how its value is prepared.

    ``plain``: a value of exactly this type is what the field's database preparation would
    return unchanged on this backend (``str`` for text, ``int`` for numbers and foreign keys,
    and on PostgreSQL a ``UUID`` and a timezone-aware ``datetime``), so it is passed as it is.
    A dict or list for a JSON column goes straight to the backend's JSON adaptation, the last
    step of the field's own preparation. Anything else takes the field's full preparation.
    """

    field: Any
    attname: str
    stamped: bool  # set by pre_save: auto_now / auto_now_add
    plain: type | None
    json: bool

    def prepared(self, db, value: Any) -> Any:
        if value is None:
            return None
        if type(value) is self.plain and (self.plain is not datetime or value.tzinfo is not None):
            return value
        if self.json and type(value) in (dict, list):
            return db.ops.adapt_json_value(value, self.field.encoder)
        return self.field.get_db_prep_save(value, db)


_TEXT_TYPES = {"CharField", "TextField"}
_INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
}


@functools.cache
def _columns(vendor: str) -> tuple[_Column, ...]:
    """The INSERT's columns, in order, for this database backend."""
    return tuple(
        _Column(
            field=field,
            attname=field.attname,
            stamped=_set_by_pre_save(field),
            plain=_plain_type(field, vendor),
            json=field.get_internal_type() == "JSONField",
        )
        for field in Delivery._meta.concrete_fields
    )


def _set_by_pre_save(field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _plain_type(field, vendor: str) -> type | None:
    internal = (field.target_field if field.is_relation else field).get_internal_type()
    if internal in _TEXT_TYPES:
        return str
    if internal in _INTEGER_TYPES:
        return int
    # PostgreSQL's backend adapts both as they are (native uuid; aware datetimes, which
    # get_prep_value also leaves alone); SQLite turns them into text, so they take the full path.
    if vendor == "postgresql" and internal == "UUIDField":
        return uuid.UUID
    if vendor == "postgresql" and internal == "DateTimeField":
        return datetime
    return None


@functools.cache
def _insert_sql() -> str:
    quote = connection.ops.quote_name
    fields = Delivery._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only our own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {quote(Delivery._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608


def _older_open_for_same_user() -> Exists:
    return Exists(
        Delivery.objects.filter(
            environment_id=OuterRef("environment_id"),
            external_id=OuterRef("external_id"),
            status__in=OPEN_STATUSES,
            created_at__lt=OuterRef("created_at"),
        )
    )


def claimable(now: datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(status__in=WAITING_STATUSES, next_attempt_at__lte=now).exclude(
        _older_open_for_same_user()
    )


def _lease_fields(token: uuid.UUID, now: datetime) -> dict:
    return {
        "status": DeliveryStatus.IN_FLIGHT,
        "lease_token": token,
        "lease_expires_at": now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
        "updated_at": now,
    }


def _claim(
    candidates: QuerySet[Delivery], limit: int, token: uuid.UUID, now
) -> list[LeasedDelivery]:
    ordered = candidates.order_by("next_attempt_at", "created_at")
    if connection.features.has_select_for_update_skip_locked:
        # The locking SELECT reads what sending needs, so the claim costs one SELECT and one
        # UPDATE (no second read of the rows just leased).
        with transaction.atomic():
            rows = list(
                ordered.select_for_update(skip_locked=True, of=("self",)).values_list(
                    *LEASED_FIELDS
                )[:limit]
            )
            if rows:
                Delivery.objects.filter(pk__in=[row[0] for row in rows]).update(
                    **_lease_fields(token, now)
                )
        return sorted((LeasedDelivery(*row) for row in rows), key=lambda held: held.created_at)
    ids = list(ordered.values_list("pk", flat=True)[:limit])
    # Compare-and-set: the UPDATE repeats the claimable condition, so a row another worker
    # took between our SELECT and this UPDATE is left alone.
    if not ids or not claimable(now).filter(pk__in=ids).update(**_lease_fields(token, now)):
        return []
    return held(token)


def claim(environment_id: int, limit: int) -> tuple[uuid.UUID, list[LeasedDelivery]]:
    """Lease up to ``limit`` due deliveries of one environment, oldest first."""
    token, now = uuid.uuid4(), timezone.now()
    return token, _claim(claimable(now).filter(environment_id=environment_id), limit, token, now)


def claim_one(delivery: Delivery) -> uuid.UUID | None:
    """Lease this one delivery if it is due (sync mode sends it from the request)."""
    token, now = uuid.uuid4(), timezone.now()
    return token if _claim(claimable(now).filter(pk=delivery.pk), 1, token, now) else None


def held(token: uuid.UUID) -> list[LeasedDelivery]:
    """The deliveries this lease still holds, oldest first."""
    rows = (
        Delivery.objects.filter(lease_token=token, status=DeliveryStatus.IN_FLIGHT)
        .order_by("created_at")
        .values_list(*LEASED_FIELDS)
    )
    return [LeasedDelivery(*row) for row in rows]


def renew(token: uuid.UUID) -> None:
    expires = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    Delivery.objects.filter(lease_token=token).update(lease_expires_at=expires)


def release(token: uuid.UUID, ids: Iterable, *, next_attempt_at: datetime, status: str) -> None:
    """Give unsent deliveries back to the queue (no attempt was used up)."""
    Delivery.objects.filter(pk__in=list(ids), lease_token=token).update(
        status=status, next_attempt_at=next_attempt_at, lease_token=None, lease_expires_at=None
    )


def due_environment_ids(now: datetime | None = None) -> list[int]:
    """Environments that have due deliveries and are neither paused nor waiting out a 429."""
    now = now or timezone.now()
    blocked = DeliveryGate.objects.filter(
        Q(blocked_until__gt=now) | ~Q(paused_reason="")
    ).values_list("environment_id", flat=True)
    return sorted(
        set(
            Delivery.objects.filter(status__in=WAITING_STATUSES, next_attempt_at__lte=now)
            .exclude(environment_id__in=list(blocked))
            .values_list("environment_id", flat=True)
            .distinct()
        )
    )


def sweep(now: datetime | None = None) -> list[int]:
    """Take back expired leases (their worker died) and return the environments with due work.

    The interrupted attempt is marked ambiguous: the request may have reached Braze.
    """
    now = now or timezone.now()
    expired = Delivery.objects.filter(status=DeliveryStatus.IN_FLIGHT, lease_expires_at__lt=now)
    ids = list(expired.values_list("pk", flat=True))
    if ids:
        DeliveryAttempt.objects.filter(
            delivery_id__in=ids, outcome=AttemptOutcome.PENDING, sent_at__isnull=False
        ).update(outcome=AttemptOutcome.FAILED, ambiguous=True, error=INTERRUPTED)
        expired.filter(pk__in=ids).update(
            status=DeliveryStatus.RETRYING,
            next_attempt_at=now,
            lease_token=None,
            lease_expires_at=None,
            reason=INTERRUPTED,
        )
    return due_environment_ids(now)


def gate(environment_id: int) -> DeliveryGate:
    gate, _ = DeliveryGate.objects.get_or_create(environment_id=environment_id)
    return gate


def gate_state(environment_id: int) -> tuple[float | None, int]:
    """Seconds to wait before sending to this environment (None when it is paused), and its
    count of consecutive failures."""
    state = (
        DeliveryGate.objects.filter(environment_id=environment_id)
        .values_list("paused_reason", "blocked_until", "consecutive_failures")
        .first()
    )
    if state is None:
        return 0.0, 0
    paused_reason, blocked_until, failures = state
    if paused_reason:
        return None, failures
    if blocked_until is None:
        return 0.0, failures
    return max(0.0, (blocked_until - timezone.now()).total_seconds()), failures


def gate_wait(environment_id: int) -> float | None:
    """Seconds to wait before sending to this environment; None when it is paused."""
    return gate_state(environment_id)[0]


def block(environment_id: int, until: datetime, *, failed: bool) -> None:
    """Hold all traffic to the environment until ``until`` (never shortening a longer hold)."""
    state = gate(environment_id)
    if state.blocked_until is None or state.blocked_until < until:
        state.blocked_until = until
    if failed:
        state.consecutive_failures += 1
    state.save(update_fields=["blocked_until", "consecutive_failures", "updated_at"])


def record_success(environment_id: int) -> None:
    DeliveryGate.objects.filter(environment_id=environment_id, consecutive_failures__gt=0).update(
        consecutive_failures=0
    )


def pause(environment_id: int, reason: str) -> None:
    DeliveryGate.objects.update_or_create(
        environment_id=environment_id, defaults={"paused_reason": reason}
    )


def resume(environment_id: int) -> None:
    DeliveryGate.objects.filter(environment_id=environment_id).update(
        paused_reason="", blocked_until=None, consecutive_failures=0
    )
