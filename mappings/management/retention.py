"""Retention: delete finished deliveries (and their attempts) older than a cutoff, in batches,
and the canary runs and alert messages older than it.

Open deliveries (pending, in flight, retrying) are never purged, whatever their age: they are
work still to do. Each batch is its own short transaction, so a long purge never locks the log.
Each environment keeps its newest canary run and its newest finished one whatever their age:
the dashboard and the canary alert judge the newest finished run, and the next run's claim
names the newest.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from mappings.models import AlertNotification, CanaryRun, Delivery, DeliveryAttempt, Environment
from mappings.models.audit import OPEN_STATUSES


@dataclass(frozen=True)
class Batch:
    deliveries: int
    attempts: int


def purgeable(cutoff: datetime):
    return Delivery.objects.filter(created_at__lt=cutoff).exclude(status__in=OPEN_STATUSES)


def purge(cutoff: datetime, batch_size: int) -> Iterator[Batch]:
    """Delete purgeable deliveries batch by batch, yielding what each batch removed."""
    while True:
        with transaction.atomic():
            ids = list(
                purgeable(cutoff)
                .order_by("created_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return
            attempts, _ = DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
            deliveries, _ = Delivery.objects.filter(pk__in=ids).delete()
        yield Batch(deliveries, attempts)


@dataclass(frozen=True)
class CheckRows:
    canary_runs: int
    alert_messages: int


def _kept_canary_runs() -> set[int]:
    kept = set()
    for environment in Environment.objects.only("pk"):
        runs = CanaryRun.objects.filter(environment=environment).order_by("-started_at", "-id")
        kept.update(pk for pk in (
            runs.values_list("pk", flat=True).first(),
            runs.finished().values_list("pk", flat=True).first(),
        ) if pk is not None)  # fmt: skip
    return kept


def purgeable_checks(cutoff: datetime):
    """(canary runs, alert messages) older than ``cutoff`` that may go."""
    runs = CanaryRun.objects.filter(started_at__lt=cutoff).exclude(pk__in=_kept_canary_runs())
    return runs, AlertNotification.objects.filter(sent_at__lt=cutoff)


@transaction.atomic
def purge_checks(cutoff: datetime) -> CheckRows:
    """Delete the canary runs and alert messages older than ``cutoff`` (few rows: one go)."""
    runs, messages = purgeable_checks(cutoff)
    return CheckRows(runs.delete()[0], messages.delete()[0])
