"""Retention: delete finished deliveries (and their attempts) older than a cutoff, in batches.

Open deliveries (pending, in flight, retrying) are never purged, whatever their age: they are
work still to do. Each batch is its own short transaction, so a long purge never locks the log.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from mappings.models import Delivery, DeliveryAttempt
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
