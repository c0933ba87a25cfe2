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


@dataclass(frozen=True)
class Shared:
    """The counts every window shows alike: the day's top reasons, the week's data points."""

    braze_reasons: list[dict]
    rejection_reasons: list[dict]
    data_points: list[data_point_usage.DailyUsage]


def count_shared() -> Shared:
    return Shared(
        braze_reasons=dashboard.top_reasons(dashboard.AT_BRAZE),
        rejection_reasons=dashboard.top_reasons(dashboard.REJECTED),
        data_points=data_point_usage.daily_usage(),
    )


def count(window: dashboard.Window, shared: Shared | None = None) -> Figures:
    """Count the window's figures now (the slow part; ``shared`` when already counted this
    round), and keep them for the next views."""
    shared = shared or count_shared()
    figures = Figures(
        counted_at=time.time(),
        series=dashboard.series(window),
        braze_reasons=shared.braze_reasons,
        rejection_reasons=shared.rejection_reasons,
        data_points=shared.data_points,
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
    viewed = [name for name in dashboard.WINDOWS if cache.get(VIEWED_KEY.format(name))]
    shared = count_shared() if viewed else None  # the same for every window: counted once
    for name in viewed:
        count(dashboard.WINDOWS[name], shared)
    return viewed


def _kept_seconds() -> int:
    return int(max(settings.DASHBOARD_REFRESH_SECONDS, 1) * 10)
