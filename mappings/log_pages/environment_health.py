"""Per environment: is Braze reachable, is traffic held, and how much waits.

Last successful Braze call: the newest call Braze answered 2xx (all or part of the request
accepted). The hold comes from the environment's ``DeliveryGate``: parked (a 401/403/404 left
the key or endpoint to fix), an outage (5xx, timeouts: held, then probed), or a rate limit
(Braze's 429 wait). Queue: deliveries still on their way, and the oldest one's age. Canary: the
newest finished run of the Braze canary (mappings/canary/), or none.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, OuterRef, Subquery
from django.utils import timezone

from mappings.log_pages.dashboard import Bucket, Series
from mappings.models import CanaryRun, Delivery, DeliveryAttempt, DeliveryGate, Environment
from mappings.models.audit import ANSWERED_OK, OPEN_STATUSES


@dataclass(frozen=True)
class Hold:
    kind: str  # "parked", "outage", "rate_limit"
    text: str
    until: datetime | None = None


@dataclass
class EnvironmentHealth:
    environment: Environment
    last_success_at: datetime | None = None
    hold: Hold | None = None
    queue_depth: int = 0
    oldest_open_at: datetime | None = None
    totals: Bucket = field(default_factory=lambda: Bucket(timezone.now()))
    canary: CanaryRun | None = None

    @property
    def last_success_age(self) -> timedelta | None:
        return timezone.now() - self.last_success_at if self.last_success_at else None

    @property
    def oldest_open_age(self) -> timedelta | None:
        return timezone.now() - self.oldest_open_at if self.oldest_open_at else None


def hold_of(gate: DeliveryGate | None, now: datetime) -> Hold | None:
    """What holds the environment's traffic now, in words; None when it flows."""
    if gate is None:
        return None
    if gate.paused_reason:
        return Hold("parked", "Parked: Braze refused the key or endpoint. " + gate.paused_reason)
    held = gate.blocked_until is not None and gate.blocked_until > now
    failures = gate.consecutive_failures
    if failures and held:
        text = f"Outage: {failures} failed calls in a row; held, then Braze is probed"
        return Hold("outage", text, gate.blocked_until)
    if failures:
        return Hold("outage", f"Outage: {failures} failed calls in a row; probing Braze now")
    if held:
        return Hold("rate_limit", "Rate limited by Braze (429)", gate.blocked_until)
    return None


def _last_success_at(environment_id: int) -> datetime | None:
    # Newest first on (environment, created_at): stops at the first answered call.
    return (
        DeliveryAttempt.objects.filter(environment_id=environment_id, outcome__in=ANSWERED_OK)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )


def newest_canaries() -> dict[int, CanaryRun]:
    """Each environment's newest finished canary run, by environment id, in one query."""
    newest = (
        CanaryRun.objects.finished()
        .filter(environment=OuterRef("pk"))
        .order_by("-started_at", "-id")
        .values("pk")[:1]
    )
    ids = Environment.objects.annotate(run=Subquery(newest)).values("run")
    runs = CanaryRun.objects.filter(pk__in=ids).defer("request_body", "response_body")
    return {run.environment_id: run for run in runs}


def environment_health(rows: list[Series]) -> list[EnvironmentHealth]:
    """Every environment, with its window totals summed from ``rows``."""
    now = timezone.now()
    found = {e.pk: EnvironmentHealth(e) for e in Environment.objects.order_by("name")}
    gates = {gate.environment_id: gate for gate in DeliveryGate.objects.all()}
    waiting = (
        Delivery.objects.filter(status__in=OPEN_STATUSES)
        .values("environment")
        .annotate(depth=Count("pk"), oldest=Min("created_at"))
    )
    for row in waiting:
        health = found[row["environment"]]
        health.queue_depth, health.oldest_open_at = row["depth"], row["oldest"]
    for row in rows:
        found[row.environment.pk].totals.add(row.totals)
    canaries = newest_canaries()
    for pk, health in found.items():
        health.hold = hold_of(gates.get(pk), now)
        health.canary = canaries.get(pk)
        health.last_success_at = _last_success_at(pk)
    return list(found.values())
