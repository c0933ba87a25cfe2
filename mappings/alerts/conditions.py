"""What each alert rule finds firing now: per subject, a one-line summary and the log link.

A subject is an environment, or a mapping set when a failure_rate or dead_delivery rule
watches one. Each kind costs one or two queries, each served by an index of the rows it reads
(mappings/models/audit.py): Braze calls by (environment, created_at) or (created_at), dead
and waiting deliveries by (status, created_at), the gates by their own few rows, canary runs
by (environment, started_at).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse

from mappings import site_links
from mappings.models import (
    AlertRule,
    CanaryRun,
    Delivery,
    DeliveryAttempt,
    DeliveryGate,
    Environment,
    MappingSet,
)
from mappings.models.alerts import AlertKind
from mappings.models.audit import ANSWERED_OK, OPEN_STATUSES, AttemptOutcome, DeliveryStatus

# Braze answered 2xx. A record Braze refused inside a 2xx answer is marked failed on its own
# attempt, but Braze was up and answering: that is bad data, not a failing Braze.
ANSWERED_2XX = Q(outcome__in=ANSWERED_OK) | Q(response_status__gte=200, response_status__lt=300)


@dataclass(frozen=True)
class Firing:
    subject: str  # "environment:<id>" or "mapping_set:<id>": the AlertState key
    label: str  # the subject in words: "sandbox", "support-bot (sandbox)"
    summary: str
    link: str  # absolute: the log page filtered to what fired


def firing(rule: AlertRule, now: datetime) -> list[Firing]:
    """The subjects for which ``rule``'s condition holds at ``now``."""
    return KINDS[rule.kind](rule, now)


def log_link(name: str, **filters) -> str:
    """An absolute link to a log page (``logs:<name>``) with these filter parameters."""
    query = urlencode({key: value for key, value in filters.items() if value is not None})
    return site_links.absolute(reverse(f"logs:{name}") + (f"?{query}" if query else ""))


def _stamp(moment: datetime) -> str:
    """A moment as the log filters read it (ISO 8601, UTC, to the second)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _scoped(queryset: QuerySet, rule: AlertRule) -> QuerySet:
    if rule.mapping_set_id:
        return queryset.filter(mapping_set_id=rule.mapping_set_id)
    if rule.environment_id:
        return queryset.filter(environment_id=rule.environment_id)
    return queryset


def _subject_field(rule: AlertRule) -> str:
    """What a rule alerts on one by one: each mapping set (a rule scoped to one), else each
    environment."""
    return "mapping_set" if rule.mapping_set_id else "environment"


class _Subjects:
    """Names and filter parameters of a rule's subjects, read in one query when needed."""

    def __init__(self, rule: AlertRule, ids) -> None:
        self.by_set = bool(rule.mapping_set_id)
        model = MappingSet if self.by_set else Environment
        related = ["environment"] if self.by_set else []
        self.rows = model.objects.select_related(*related).in_bulk(set(ids))
        self.field = _subject_field(rule)

    def key(self, pk: int) -> str:
        return f"{self.field}:{pk}"

    def label(self, pk: int) -> str:
        row = self.rows[pk]
        return f"{row.slug} ({row.environment})" if self.by_set else row.name

    def filters(self, pk: int) -> dict:
        return {self.field: pk}


def _minutes(rule: AlertRule) -> str:
    return f"{rule.window_minutes} min"


def failure_rate(rule: AlertRule, now: datetime) -> list[Firing]:
    since = now - timedelta(minutes=rule.window_minutes)
    calls = _scoped(DeliveryAttempt.objects.filter(created_at__gte=since), rule)
    field = _subject_field(rule)
    rows = (
        calls.exclude(outcome=AttemptOutcome.PENDING)  # still on its way: not judged yet
        .values(field)
        .annotate(total=Count("pk"), answered=Count("pk", filter=ANSWERED_2XX))
        .order_by()
    )
    over = [
        (row[field], row["total"], row["total"] - row["answered"])
        for row in rows
        if row["total"] >= max(rule.min_calls, 1)
        and (row["total"] - row["answered"]) * 100 > rule.threshold * row["total"]
    ]
    subjects = _Subjects(rule, [pk for pk, _, _ in over])
    return [
        Firing(
            subjects.key(pk),
            subjects.label(pk),
            f"{subjects.label(pk)}: {failed} of {total} Braze calls failed in the last "
            f"{_minutes(rule)} ({failed * 100 / total:.0f}%, threshold {rule.threshold:g}%)",
            log_link("attempts", **subjects.filters(pk), outcome="failed", since=_stamp(since)),
        )
        for pk, total, failed in over
    ]


def _dead_scan_start(since: datetime) -> datetime:
    """Deliveries die within their retry window (plus a last backoff) of arriving: bounding
    created_at keeps the scan of the (status, created_at) index to the recent dead rows, not
    every dead row kept for DELIVERY_RETENTION_DAYS."""
    reach = settings.DELIVERY_RETRY_WINDOW_SECONDS + settings.DELIVERY_BACKOFF_MAX_SECONDS
    return since - timedelta(seconds=reach + settings.DELIVERY_LEASE_SECONDS)


def dead_delivery(rule: AlertRule, now: datetime) -> list[Firing]:
    # updated_at is written when a delivery is claimed for its last try and when the sweep
    # gives up on it: the moment it went dead, to within a lease.
    since = now - timedelta(minutes=rule.window_minutes)
    dead = Delivery.objects.filter(
        status=DeliveryStatus.DEAD, created_at__gte=_dead_scan_start(since), updated_at__gte=since
    )
    field = _subject_field(rule)
    rows = list(_scoped(dead, rule).values(field).annotate(n=Count("pk")).order_by())
    subjects = _Subjects(rule, [row[field] for row in rows])
    found = []
    for row in rows:
        pk, n = row[field], row["n"]
        label = subjects.label(pk)
        went = "delivery went" if n == 1 else "deliveries went"
        summary = f"{label}: {n} {went} dead in the last {_minutes(rule)} (gave up retrying)"
        link = log_link("deliveries", **subjects.filters(pk), status=DeliveryStatus.DEAD.value)
        found.append(Firing(subjects.key(pk), label, summary, link))
    return found


def parked(rule: AlertRule, now: datetime) -> list[Firing]:
    gates = _scoped(DeliveryGate.objects.exclude(paused_reason=""), rule)
    return [
        Firing(
            f"environment:{gate.environment_id}",
            gate.environment.name,
            f"{gate.environment.name}: deliveries parked. {gate.paused_reason[:300]}",
            log_link(
                "deliveries",
                environment=gate.environment_id,
                status=DeliveryStatus.FAILED.value,
            ),
        )
        for gate in gates.select_related("environment").order_by("environment__name")
    ]


def queue_age(rule: AlertRule, now: datetime) -> list[Firing]:
    # The link's bound is to the second, so the cutoff is rounded up to the next one.
    cutoff = (now - timedelta(seconds=rule.threshold)).replace(microsecond=0) + timedelta(seconds=1)
    rows = (
        _scoped(Delivery.objects.filter(status__in=OPEN_STATUSES, created_at__lt=cutoff), rule)
        .values("environment", "status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    oldest: dict[int, dict] = {}
    for row in rows:
        counted = oldest.setdefault(row["environment"], {**row, "n": 0})
        counted["n"] += row["n"]
        if row["oldest"] < counted["oldest"]:
            counted.update(oldest=row["oldest"], status=row["status"])
    names = Environment.objects.in_bulk(set(oldest))
    return [_queue_firing(names[pk].name, pk, row, now, cutoff, rule) for pk, row in oldest.items()]


def _queue_firing(name: str, pk: int, row: dict, now, cutoff, rule: AlertRule) -> Firing:
    age = int((now - row["oldest"]).total_seconds())
    summary = (
        f"{name}: the oldest waiting delivery is {_duration(age)} old ({row['n']} waiting "
        f"longer than {_duration(int(rule.threshold))})"
    )
    # The filter takes one status: the oldest row's, which the link shows first.
    link = log_link("deliveries", environment=pk, status=row["status"], until=_stamp(cutoff))
    return Firing(f"environment:{pk}", name, summary, link)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def canary_failing(rule: AlertRule, now: datetime) -> list[Firing]:
    # The newest run with a verdict: a run in flight (ok empty) neither fires nor clears.
    newest = (
        CanaryRun.objects.finished()
        .filter(environment=OuterRef("pk"))
        .order_by("-started_at", "-id")
    )
    environments = Environment.objects.annotate(
        canary_ok=Subquery(newest.values("ok")[:1]),
        canary_kind=Subquery(newest.values("kind")[:1]),
        canary_summary=Subquery(newest.values("summary")[:1]),
    ).filter(canary_ok=False)
    if rule.environment_id:
        environments = environments.filter(pk=rule.environment_id)
    return [
        Firing(
            f"environment:{environment.pk}",
            environment.name,
            f"{environment.name}: the Braze canary failed ({environment.canary_kind}): "
            f"{environment.canary_summary[:300]}",
            site_links.absolute(
                reverse("admin:mappings_canaryrun_changelist")
                + f"?environment__id__exact={environment.pk}"
            ),
        )
        for environment in environments.order_by("name")
    ]


KINDS: dict[str, Callable[[AlertRule, datetime], list[Firing]]] = {
    AlertKind.FAILURE_RATE: failure_rate,
    AlertKind.DEAD_DELIVERY: dead_delivery,
    AlertKind.PARKED: parked,
    AlertKind.QUEUE_AGE: queue_age,
    AlertKind.CANARY_FAILING: canary_failing,
}
