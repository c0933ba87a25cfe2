"""Figures for the delivery dashboard: two stories kept apart, and each environment's health.

Every delivery is in one of four groups (``GROUPS``): delivered; refused or failed at Braze
(``failed``/``dead``: Braze refused the record, or failed or could not be reached until we gave
up); rejected by the mapping (``rejected``: the bot's data did not map, so nothing was sent and
Braze never saw it); waiting (pending, in flight, retrying).

Success rate = delivered / (delivered + refused or failed at Braze): only what reached Braze's
judgement. Rejected bot data is a mapping or bot problem, not a Braze failure, so it is counted
beside the rate, not in it; waiting deliveries are not finished.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from mappings.models import Delivery, Environment, MappingSet
from mappings.models.audit import OPEN_STATUSES, DeliveryStatus


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
AT_BRAZE = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)
REJECTED = (DeliveryStatus.REJECTED,)
# (field, label) per group, in the order charts stack them and pages list them.
GROUPS = [
    ("delivered", "delivered"),
    ("at_braze", "refused or failed at Braze"),
    ("rejected", "rejected by the mapping (bot data)"),
    ("waiting", "waiting"),
]


@dataclass
class Bucket:
    start: datetime
    delivered: int = 0
    at_braze: int = 0
    rejected: int = 0
    waiting: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.at_braze + self.rejected + self.waiting

    @property
    def success_rate(self) -> float | None:
        judged = self.delivered + self.at_braze
        return self.delivered / judged if judged else None

    def add(self, other: "Bucket") -> None:
        for name, _ in GROUPS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


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
            self.totals.add(bucket)

    @property
    def success_rate(self) -> float | None:
        return self.totals.success_rate


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
        _count(bucket, row["status"], row["n"])
    return _as_series(counts, start, window)


def _count(bucket: Bucket, status: str, n: int) -> None:
    if status == DeliveryStatus.DELIVERED:
        bucket.delivered += n
    elif status in AT_BRAZE:
        bucket.at_braze += n
    elif status in REJECTED:
        bucket.rejected += n
    else:
        bucket.waiting += n


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


def top_reasons(statuses, since: timedelta = timedelta(days=1), limit: int = 5) -> list[dict]:
    """The most frequent reasons of deliveries ending in ``statuses`` lately, with counts."""
    return list(
        Delivery.objects.filter(created_at__gte=timezone.now() - since, status__in=statuses)
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")[:limit]
    )


def recent_failures(limit: int = 10) -> list[Delivery]:
    return list(
        Delivery.objects.filter(status__in=[*AT_BRAZE, *REJECTED])
        .select_related("mapping_set", "environment")
        .order_by("-created_at")[:limit]
    )
