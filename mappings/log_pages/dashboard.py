"""Figures for the delivery dashboard: volumes, success rates, queue, errors, recent failures.

Success rate = delivered / finished (delivered, failed, dead, rejected); open deliveries
(pending, in flight, retrying) are not finished yet and count only as queue.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from mappings.models import Delivery, Environment, MappingSet
from mappings.models.audit import OPEN_STATUSES, REPLAYABLE_STATUSES, DeliveryStatus


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    bucket: timedelta
    trunc: type

    @property
    def buckets(self) -> int:
        return int(self.span / self.bucket)


WINDOWS = {
    "hour": Window("hour", timedelta(hours=1), timedelta(minutes=5), TruncMinute),
    "day": Window("day", timedelta(days=1), timedelta(hours=1), TruncHour),
    "week": Window("week", timedelta(days=7), timedelta(hours=6), TruncHour),
}
_FAILED = {DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.REJECTED}


@dataclass
class Bucket:
    start: datetime
    delivered: int = 0
    failed: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.open


@dataclass
class Series:
    """One mapping set in one environment over a window."""

    mapping_set: MappingSet
    environment: Environment
    buckets: list[Bucket]
    totals: Bucket = field(init=False)

    def __post_init__(self) -> None:
        self.totals = Bucket(self.buckets[0].start if self.buckets else timezone.now())
        for bucket in self.buckets:
            self.totals.delivered += bucket.delivered
            self.totals.failed += bucket.failed
            self.totals.open += bucket.open

    @property
    def success_rate(self) -> float | None:
        finished = self.totals.delivered + self.totals.failed
        return self.totals.delivered / finished if finished else None


def series(window: Window, now: datetime | None = None) -> list[Series]:
    """Per (mapping set, environment): deliveries per bucket over ``window``, oldest first."""
    now = now or timezone.now()
    start = _floor(now - window.span + window.bucket, window.bucket)
    grouped = (
        Delivery.objects.filter(created_at__gte=start)
        .annotate(slot=window.trunc("created_at"))
        .values("mapping_set", "environment", "slot", "status")
        .annotate(n=Count("pk"))
    )
    counts: dict[tuple[int, int], dict[datetime, Bucket]] = defaultdict(dict)
    for row in grouped:
        slot = _floor(row["slot"], window.bucket)
        bucket = counts[(row["mapping_set"], row["environment"])].setdefault(slot, Bucket(slot))
        _add(bucket, row["status"], row["n"])
    return _as_series(counts, start, window)


def _add(bucket: Bucket, status: str, n: int) -> None:
    if status == DeliveryStatus.DELIVERED:
        bucket.delivered += n
    elif status in _FAILED:
        bucket.failed += n
    else:
        bucket.open += n


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=moment.tzinfo)
    return moment - (moment - epoch) % step


def _as_series(counts: dict, start: datetime, window: Window) -> list[Series]:
    sets = MappingSet.objects.in_bulk({key[0] for key in counts})
    environments = Environment.objects.in_bulk({key[1] for key in counts})
    found = []
    for (set_id, environment_id), by_slot in counts.items():
        slots = [start + window.bucket * i for i in range(window.buckets)]
        buckets = [by_slot.get(slot, Bucket(slot)) for slot in slots]
        found.append(Series(sets[set_id], environments[environment_id], buckets))
    return sorted(found, key=lambda s: (s.mapping_set.slug, s.environment.name))


@dataclass(frozen=True)
class Queue:
    depth: int
    oldest_open_at: datetime | None

    @property
    def oldest_age(self) -> timedelta | None:
        return timezone.now() - self.oldest_open_at if self.oldest_open_at else None


def queue() -> Queue:
    """Deliveries still on their way to Braze, and since when the oldest one waits."""
    found = Delivery.objects.filter(status__in=OPEN_STATUSES).aggregate(
        depth=Count("pk"), oldest=Min("created_at")
    )
    return Queue(found["depth"], found["oldest"])


def top_errors(since: timedelta = timedelta(days=1), limit: int = 5) -> list[dict]:
    """The most frequent failure reasons lately, with how often each occurred."""
    return list(
        Delivery.objects.filter(created_at__gte=timezone.now() - since, status__in=_FAILED)
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")[:limit]
    )


def recent_failures(limit: int = 10) -> list[Delivery]:
    statuses = [*REPLAYABLE_STATUSES, DeliveryStatus.REJECTED]
    return list(
        Delivery.objects.filter(status__in=statuses)
        .select_related("mapping_set", "environment")
        .order_by("-created_at")[:limit]
    )
