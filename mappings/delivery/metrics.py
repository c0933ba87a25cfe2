"""Prometheus metrics: what each process counts, and the database facts read at scrape time.

Counters and the latency histogram live in the process that saw the event (a gunicorn worker,
a Celery worker). With several processes on a host, set ``PROMETHEUS_MULTIPROC_DIR`` (the
client library's own variable) to a directory they all share: each process then writes its
values to its own file there, and a scrape adds the files up (``MultiProcessCollector``);
gunicorn.conf.py's ``child_exit`` hook marks an exited worker's files dead. Without it (one
process, e.g. ``runserver``) the library's in-memory registry is used.

Gauges that are facts of the database (queue depth, oldest open delivery, held environments,
dead deliveries) are not kept per process, where they would be one process's view and go stale:
``DatabaseFacts`` reads them when Prometheus scrapes, in four small queries (their cost is noted
on each).
"""

import os
from collections.abc import Iterator
from functools import lru_cache

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mappings.models import DeliveryGate, Environment
from mappings.models.audit import OPEN_STATUSES, Delivery, DeliveryStatus

INGESTS = Counter(
    "bridge_ingests",
    "Conversations received, by mapping set, platform route and outcome",
    ["mapping_set", "platform", "outcome"],
)
REFUSED_REQUESTS = Counter(
    "bridge_refused_requests",
    "API requests refused before any conversation was taken (bad token, unknown mapping set, "
    "unreadable body, throttled...), by route, HTTP status and error code",
    ["route", "status", "code"],
)
BRAZE_REQUESTS = Counter(
    "bridge_braze_requests",
    "Requests to Braze's /users/track, by HTTP status (or why no answer came)",
    ["status"],
)
BRAZE_LATENCY = Histogram(
    "bridge_braze_request_duration_seconds",
    "Time from sending a /users/track request to Braze's whole answer (or giving up)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)


@lru_cache(maxsize=4096)
def _ingest_child(mapping_set: str, platform: str, outcome: str):
    """The labelled counter, looked up once per label combination: ``labels()`` takes a lock
    and builds a key on every call, which the ingest path would pay on each request."""
    return INGESTS.labels(mapping_set, platform or "generic", outcome)


def count_ingest(mapping_set: str, platform: str, outcome: str) -> None:
    _ingest_child(mapping_set, platform, outcome).inc()


def count_refusal(route: str, status: int, code: str) -> None:
    """One refused API request. Labels come from our own URL names and error codes, never from
    the request (a slug or platform in a URL is the caller's text: unbounded label values)."""
    REFUSED_REQUESTS.labels(route or "unknown", str(status), code or "unknown").inc()


@lru_cache(maxsize=64)
def _braze_child(status: str):
    return BRAZE_REQUESTS.labels(status)


def count_braze_request(status: int | None, no_answer: str | None, duration_ms: int | None):
    """One request to Braze: its HTTP status, else the kind of failure (timeout, connection...)."""
    _braze_child(str(status) if status is not None else (no_answer or "no_answer")).inc()
    if duration_ms is not None:
        BRAZE_LATENCY.observe(duration_ms / 1000)


class DatabaseFacts(Collector):
    """Gauges computed from the database at each scrape, the same whichever process answers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _queue_gauges()
        yield _held_environments()
        yield _dead_deliveries()


def _queue_gauges() -> Iterator[GaugeMetricFamily]:
    # One GROUP BY over open rows per environment; the open rows are few when delivery keeps
    # up (pending/retrying rows are also in the partial delivery_claim_idx).
    depth = GaugeMetricFamily(
        "bridge_queue_depth", "Deliveries not yet finished (pending, in flight, retrying)",
        labels=["environment"],
    )  # fmt: skip
    oldest = GaugeMetricFamily(
        "bridge_queue_oldest_open_age_seconds", "Age of the oldest unfinished delivery",
        labels=["environment"],
    )  # fmt: skip
    now = timezone.now()
    rows = (
        Delivery.objects.filter(status__in=OPEN_STATUSES)
        .values("environment__name")
        .annotate(open=Count("pk"), first=Min("created_at"))
        .order_by()
    )
    for row in rows:
        name = row["environment__name"] or ""
        depth.add_metric([name], row["open"])
        oldest.add_metric([name], (now - row["first"]).total_seconds())
    return iter([depth, oldest])


def _held_environments() -> GaugeMetricFamily:
    # One row per environment in delivery_gate: a scan of a table as small as the environments.
    gauge = GaugeMetricFamily(
        "bridge_environment_held",
        "1 while an environment's deliveries wait: paused on a credential problem or held "
        "after Braze failures or a 429",
        labels=["environment", "reason"],
    )
    now = timezone.now()
    gates = DeliveryGate.objects.filter(
        Q(blocked_until__gt=now) | ~Q(paused_reason="")
    ).values_list("environment__name", "paused_reason")
    held = {name: "paused" if paused else "backoff" for name, paused in gates}
    for name in Environment.objects.values_list("name", flat=True):
        for reason in ("paused", "backoff"):
            gauge.add_metric([name, reason], 1 if held.get(name) == reason else 0)
    return gauge


def _dead_deliveries() -> GaugeMetricFamily:
    # A COUNT served by delivery_status_newest_idx (status first): it reads the dead rows' index
    # entries only, which stay few while someone replays or purges them.
    gauge = GaugeMetricFamily(
        "bridge_dead_deliveries", "Deliveries that gave up retrying and wait for a replay"
    )
    gauge.add_metric([], Delivery.objects.filter(status=DeliveryStatus.DEAD).count())
    return gauge


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets: every process's counters on this host, then the database facts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    registry.register(DatabaseFacts())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessRegistry(Collector):
    """The in-memory registry's metrics, for a single process (no multiprocess directory)."""

    def collect(self):
        return REGISTRY.collect()
