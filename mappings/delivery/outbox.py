"""The outbox: Delivery rows are the record of truth; workers lease them, the sweep takes back.

A worker claims due rows of one environment by stamping them ``in_flight`` with its own lease
token and an expiry. On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so
concurrent workers pass over each other's rows; on SQLite (one writer at a time) the UPDATE
re-checks the claimable condition itself, an atomic compare-and-set. Either way a row is held by
one token, and every later write filters on that token, so a worker whose lease was taken back
cannot overwrite the new owner's outcome.

Order per user: a delivery is claimable only when no older delivery of the same user in the same
environment is still open, so one user's updates reach Braze in the order they arrived (a later
update sent first would be overwritten by the earlier one).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, QuerySet, When
from django.utils import timezone

from mappings.delivery import delivery_insert
from mappings.delivery.retry_policy import Backoff
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


def add(delivery: Delivery) -> Delivery:
    """Write a new Delivery row (one INSERT, in the caller's transaction or its own) and return
    it as a saved instance."""
    return delivery_insert.insert(delivery)


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


def lease_expiry(now: datetime) -> datetime:
    """When a lease taken ``now`` ends unless renewed."""
    return now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


def _lease_fields(token: uuid.UUID, now: datetime) -> dict:
    return {
        "status": DeliveryStatus.IN_FLIGHT,
        "lease_token": token,
        "lease_expires_at": lease_expiry(now),
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


def lease_fresh(delivery: Delivery, token: uuid.UUID) -> bool:
    """Lease the delivery this request has just written and count its try, in one UPDATE, if it
    is still as written (no worker took it meanwhile) and due (sync mode sends it from the
    request). Run it in the transaction that writes the try's attempt row: the UPDATE's row
    lock keeps the sweep and the workers off the row until that commit. (On PostgreSQL,
    ``sync_rows.lease_and_stamp`` does both in one statement.)"""
    now = timezone.now()
    as_written = claimable(now).filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempt_count=delivery.attempt_count
    )
    fields = {**_lease_fields(token, now), "attempt_count": F("attempt_count") + 1}
    return as_written.update(**fields) == 1


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
    """Environments with work now: due deliveries and neither a pause nor a hold, or a hold
    that ended after transient failures while retries wait (their drain probes Braze first)."""
    now = now or timezone.now()
    blocked = DeliveryGate.objects.filter(
        Q(blocked_until__gt=now) | ~Q(paused_reason="")
    ).values_list("environment_id", flat=True)
    due = set(
        Delivery.objects.filter(status__in=WAITING_STATUSES, next_attempt_at__lte=now)
        .exclude(environment_id__in=list(blocked))
        .values_list("environment_id", flat=True)
        .distinct()
    )
    return sorted(due | _to_probe(now))


def _to_probe(now: datetime) -> set[int]:
    """Environments whose hold after transient failures has ended while retries wait, due or
    not: a delivery's own backoff may run to an hour, the probe interval only to its cap."""
    ended = DeliveryGate.objects.filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lte=now),
        consecutive_failures__gt=0,
        paused_reason="",
    ).values("environment_id")
    return set(
        Delivery.objects.filter(status=DeliveryStatus.RETRYING, environment_id__in=ended)
        .values_list("environment_id", flat=True)
        .distinct()
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
        # Not due at once: the interrupted request may still be applied at Braze, and a worker
        # that died on one request may die on the next; the backoff spaces the copies.
        retry_at = now + timedelta(seconds=delivery_backoff().delay(1))
        expired.filter(pk__in=ids).update(
            status=DeliveryStatus.RETRYING,
            next_attempt_at=retry_at,
            lease_token=None,
            lease_expires_at=None,
            reason=INTERRUPTED,
        )
    return due_environment_ids(now)


def delivery_backoff() -> Backoff:
    """Each delivery's own retry schedule, from the settings."""
    return Backoff(settings.DELIVERY_BACKOFF_BASE_SECONDS, settings.DELIVERY_BACKOFF_MAX_SECONDS)


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
    return _gate_wait(*state) if state else (0.0, 0)


def gate_state_of(gate: DeliveryGate | None) -> tuple[float | None, int]:
    """``gate_state`` from a gate row already read (None: the environment has none yet)."""
    if gate is None:
        return 0.0, 0
    return _gate_wait(gate.paused_reason, gate.blocked_until, gate.consecutive_failures)


def _gate_wait(paused_reason: str, blocked_until: datetime | None, failures: int):
    if paused_reason:
        return None, failures
    if blocked_until is None:
        return 0.0, failures
    return max(0.0, (blocked_until - timezone.now()).total_seconds()), failures


def block(environment_id: int, until: datetime, *, failed: bool) -> None:
    """Hold all traffic to the environment until ``until`` (never shortening a longer hold)."""
    state = gate(environment_id)
    if state.blocked_until is None or state.blocked_until < until:
        state.blocked_until = until
    if failed:
        state.consecutive_failures += 1
    state.save(update_fields=["blocked_until", "consecutive_failures", "updated_at"])


def record_success(environment_id: int) -> int:
    """Braze answered after transient failures: reset their count, drop the ended hold and make
    the environment's waiting retries due now, so they flow at once instead of each waiting out
    its own backoff. Returns how many were made due (0, and no other write, without failures).

    A longer hold set meanwhile (another worker's 429) is kept; so are the retries whose last
    try may have reached Braze: a request cut at its deadline, timed out or reset after it was
    sent (its attempt is flagged ambiguous), or left by a lost worker (the sweep's
    ``INTERRUPTED``). Their backoff spaces copies of a request Braze may have applied.
    """
    now = timezone.now()
    reset = DeliveryGate.objects.filter(
        environment_id=environment_id, consecutive_failures__gt=0
    ).update(
        consecutive_failures=0,
        blocked_until=Case(
            When(blocked_until__gt=now, then=F("blocked_until")),
            default=None,
            output_field=DateTimeField(),
        ),
        updated_at=now,
    )
    if not reset:
        return 0
    return (
        Delivery.objects.filter(
            environment_id=environment_id,
            status=DeliveryStatus.RETRYING,
            next_attempt_at__gt=now,
        )
        .exclude(Q(reason=INTERRUPTED) | _last_try_ambiguous())
        .update(next_attempt_at=now, updated_at=now)
    )


def _last_try_ambiguous() -> Exists:
    """The delivery's latest attempt may have been applied by Braze (served by the unique
    (delivery, attempt_number) index)."""
    return Exists(
        DeliveryAttempt.objects.filter(
            delivery_id=OuterRef("pk"), attempt_number=OuterRef("attempt_count"), ambiguous=True
        )
    )


def give_up_overdue(environment_id: int, reason: str) -> int:
    """End as dead the environment's retries that are due but past their retry window (or
    attempts): a probe just found Braze still failing, which is their next failure. Spends no
    attempt and writes no attempt row, as the probe was no try of theirs. Returns how many."""
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.DELIVERY_RETRY_WINDOW_SECONDS)
    return (
        Delivery.objects.filter(
            environment_id=environment_id,
            status=DeliveryStatus.RETRYING,
            next_attempt_at__lte=now,
        )
        .filter(
            Q(created_at__lte=window_start) | Q(attempt_count__gte=settings.DELIVERY_MAX_ATTEMPTS)
        )
        .update(status=DeliveryStatus.DEAD, reason=reason, next_attempt_at=None, updated_at=now)
    )


def pause(environment_id: int, reason: str) -> None:
    DeliveryGate.objects.update_or_create(
        environment_id=environment_id, defaults={"paused_reason": reason}
    )


def resume(environment_id: int) -> None:
    DeliveryGate.objects.filter(environment_id=environment_id).update(
        paused_reason="", blocked_until=None, consecutive_failures=0
    )
