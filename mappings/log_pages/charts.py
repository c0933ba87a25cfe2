"""Server-rendered SVG bar charts for the dashboard (no script, no CDN)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from mappings.log_pages.dashboard import Bucket, Series

WIDTH, HEIGHT = 480, 90
COLOURS = {"delivered": "#2e7d32", "failed": "#c62828", "open": "#9e9e9e"}


def _bar(index: int, bucket: Bucket, width: float, scale: float) -> list[tuple]:
    parts, top = [], HEIGHT
    label = (
        f"{bucket.start:%Y-%m-%d %H:%M} UTC: {bucket.delivered} delivered, "
        f"{bucket.failed} failed, {bucket.open} open"
    )
    for kind in ("delivered", "failed", "open"):
        height = getattr(bucket, kind) * scale
        if height:
            top -= height
            parts.append(
                (f"{index * width:.1f}", f"{top:.1f}", f"{max(width - 1, 1):.1f}",
                 f"{height:.1f}", COLOURS[kind], label)
            )  # fmt: skip
    return parts


def stacked_bars(series: Series) -> SafeString:
    """Delivered / failed / open per bucket, oldest on the left, each bar titled."""
    peak = max((bucket.total for bucket in series.buckets), default=0) or 1
    width = WIDTH / max(len(series.buckets), 1)
    rects = [
        part
        for index, bucket in enumerate(series.buckets)
        for part in _bar(index, bucket, width, HEIGHT / peak)
    ]
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    return format_html(
        '<svg class="bridge-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
        '<title>{t}</title><line x1="0" y1="{h}" x2="{w}" y2="{h}" stroke="#ccc"/>{b}</svg>',
        w=WIDTH,
        h=HEIGHT,
        t=f"{series.mapping_set.slug} in {series.environment.name}; peak {peak} per bar",
        b=body,
    )
