"""Server-rendered SVG bar charts for the dashboard (no script, no CDN), with labelled axes.

Each bar is one time bucket, oldest on the left, stacked by group (dashboard.GROUPS); the y
axis counts deliveries per bucket from 0 to the tallest bar, the x axis spans the window in
UTC. Every bar carries a title with its exact counts, for a pointer or a screen reader.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from mappings.log_pages.dashboard import GROUPS, Bucket, Series, Window

WIDTH, HEIGHT = 520, 130
LEFT, BOTTOM, TOP, RIGHT = 44, 30, 8, 8  # room for the axes' numbers and titles
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COLOURS = {
    "delivered": "#2e7d32",
    "at_braze": "#c62828",
    "rejected": "#f9a825",
    "waiting": "#9e9e9e",
}
LEGEND = [(label, COLOURS[name]) for name, label in GROUPS]
AXIS = "#666"


def _bar(index: int, bucket: Bucket, width: float, scale: float) -> list[tuple]:
    parts, top = [], TOP + PLOT_H
    counts = ", ".join(f"{getattr(bucket, name)} {label}" for name, label in GROUPS)
    title = f"{bucket.start:%Y-%m-%d %H:%M} UTC: {counts}"
    for name, _ in GROUPS:
        height = getattr(bucket, name) * scale
        if height:
            top -= height
            parts.append(
                (f"{LEFT + index * width:.1f}", f"{top:.1f}", f"{max(width - 1, 1):.1f}",
                 f"{height:.1f}", COLOURS[name], title)
            )  # fmt: skip
    return parts


def _bars(series: Series, peak: int) -> SafeString:
    width = PLOT_W / max(len(series.buckets), 1)
    rects = [
        part
        for index, bucket in enumerate(series.buckets)
        for part in _bar(index, bucket, width, PLOT_H / peak)
    ]
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )


def _bucket_words(window: Window) -> str:
    minutes = int(window.bucket.total_seconds() // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


def _axes(series: Series, window: Window, peak: int) -> SafeString:
    """Both axis lines, 0 / half / peak on y, the window's start and end on x, and titles."""
    base, right = TOP + PLOT_H, LEFT + PLOT_W
    ticks = sorted({0, peak // 2, peak})
    heights = [(tick, base - PLOT_H * tick / peak) for tick in ticks]
    y_ticks = format_html_join(
        "",
        '<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#e0e0e0"/>'
        '<text x="{3}" y="{4}" text-anchor="end" font-size="10" class="y-tick">{5}</text>',
        ((LEFT, f"{y:.1f}", right, LEFT - 4, f"{y + 3:.1f}", tick) for tick, y in heights),
    )
    first = series.buckets[0].start if series.buckets else None
    end = first + window.span if first else None
    return format_html(
        '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="{c}"/>'
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{c}"/>{y}'
        '<text x="{l}" y="{xl}" font-size="10" class="x-tick">{first}</text>'
        '<text x="{r}" y="{xl}" font-size="10" text-anchor="end" class="x-tick">{end}</text>'
        '<text x="{mid}" y="{xt}" font-size="10" text-anchor="middle" class="x-title">'
        "time (UTC), one bar per {per}</text>"
        '<text x="10" y="{ym}" font-size="10" text-anchor="middle" class="y-title" '
        'transform="rotate(-90 10 {ym})">deliveries</text>',
        l=LEFT, t=TOP, b=base, r=right, c=AXIS, y=y_ticks, xl=base + 12, xt=base + 25,
        mid=LEFT + PLOT_W / 2, ym=TOP + PLOT_H / 2, per=_bucket_words(window),
        first=f"{first:%m-%d %H:%M}" if first else "", end=f"{end:%m-%d %H:%M}" if end else "",
    )  # fmt: skip


def stacked_bars(series: Series, window: Window) -> SafeString:
    """The series' buckets as stacked bars on labelled axes."""
    peak = max((bucket.total for bucket in series.buckets), default=0) or 1
    return format_html(
        '<svg class="bridge-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
        "<title>{t}</title>{a}{b}</svg>",
        w=WIDTH,
        h=HEIGHT,
        t=f"Deliveries of {series.mapping_set.slug} in {series.environment.name} per "
        f"{_bucket_words(window)}, last {window.name}; tallest bar {peak}",
        a=_axes(series, window, peak),
        b=_bars(series, peak),
    )
