"""The dashboard's counted figures, computed at most once a refresh and shared through the cache.

Counting a window's deliveries is a scan of every row in it: on a log of a million rows the week
is a few hundred thousand, which no page should wait for. So the counted figures (the window's
series, the day's top reasons, Braze's bill over the week) are computed by the ``dashboard``
periodic job every ``DASHBOARD_REFRESH_SECONDS`` for the windows someone viewed lately, and
the page reads them from the cache with the time they were counted. Only a page that finds
none, or finds them older than two refreshes (the job is not running: Celery beat down, or
the embedded loop off), counts them itself. What must be live stays live on every view: each
environment's hold, queue and last successful call, and the latest failures (index reads).

With several processes the job runs in each: a lock in the shared cache lets one count.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from mappings.log_pages import dashboard, data_point_usage

KEY = "bridge:dashboard:figures:{}"
VIEWED_KEY = "bridge:dashboard:viewed:{}"
LOCK_KEY = "bridge:dashboard:refreshing"
# A window nobody has opened for this long is no longer counted in the background.
VIEWED_FOR_SECONDS = 3600


@dataclass(frozen=True)
class Figures:
    counted_at: float  # time.time()
    series: list[dashboard.Series]
    braze_reasons: list[dict]
    rejection_reasons: list[dict]
    data_points: list[data_point_usage.DailyUsage]

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.counted_at)


def count(window: dashboard.Window) -> Figures:
    """Count the window's figures now (the slow part), and keep them for the next views."""
    figures = Figures(
        counted_at=time.time(),
        series=dashboard.series(window),
        braze_reasons=dashboard.top_reasons(dashboard.AT_BRAZE),
        rejection_reasons=dashboard.top_reasons(dashboard.REJECTED),
        data_points=data_point_usage.daily_usage(),
    )
    cache.set(KEY.format(window.name), figures, timeout=_kept_seconds())
    return figures


def for_page(window: dashboard.Window) -> Figures:
    """The figures a dashboard view shows: the kept ones while fresh enough, else counted now."""
    cache.set(VIEWED_KEY.format(window.name), time.time(), timeout=VIEWED_FOR_SECONDS)
    kept = cache.get(KEY.format(window.name))
    if kept is None or kept.age_seconds > 2 * settings.DASHBOARD_REFRESH_SECONDS:
        return count(window)
    return kept


def refresh_viewed() -> list[str]:
    """The periodic job: count again each window viewed in the last hour; one process at a
    time (the lock outlives a slow count rather than letting a second one start)."""
    if not cache.add(LOCK_KEY, True, timeout=max(settings.DASHBOARD_REFRESH_SECONDS, 1)):
        return []
    counted = []
    for name, window in dashboard.WINDOWS.items():
        if cache.get(VIEWED_KEY.format(name)) is not None:
            count(window)
            counted.append(name)
    return counted


def _kept_seconds() -> int:
    return int(max(settings.DASHBOARD_REFRESH_SECONDS, 1) * 10)
