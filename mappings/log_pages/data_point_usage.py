"""Braze's bill on the dashboard: data points spent per mapping set per day, beside what skipping
unchanged attributes saved (counts per delivery: mappings/engine/data_points.py).

Only delivered deliveries spend: Braze bills what it accepted. Days are UTC days of arrival.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from mappings.models import Delivery
from mappings.models.audit import DeliveryStatus

DAYS = 7


@dataclass(frozen=True)
class DailyUsage:
    day: date
    mapping_set: str
    spent: int
    saved: int


def daily_usage(days: int = DAYS) -> list[DailyUsage]:
    """Newest day first, then by mapping set; one GROUP BY over the window's delivered rows."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Delivery.objects.filter(status=DeliveryStatus.DELIVERED, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "mapping_set__slug")
        .annotate(spent=Sum("data_points"), saved=Sum("data_points_saved"))
        .order_by("-day", "mapping_set__slug")
    )
    return [
        DailyUsage(row["day"], row["mapping_set__slug"], row["spent"] or 0, row["saved"] or 0)
        for row in rows
    ]
