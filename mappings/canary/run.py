"""Run the Braze canary: one marked test write per environment, judged and recorded.

``run_canary`` runs one environment now (``manage.py run_canary``); ``run_due_canaries`` is the
periodic job, run by every web process's delivery thread (or by beat), so it decides from the
database which environments are due and claims each one by inserting its run row (see
``mappings/models/canary.py``): two processes at once send one request, not two.

A run is a check, not a delivery: it writes no Delivery, leaves the DeliveryGate alone, and its
row is written before the call and completed after (a crash leaves a "running" row behind).
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mappings.canary import checks
from mappings.models import CanaryRun, Environment
from mappings.models.canary import RUNNING

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 2000
# A run is due a little before a whole interval has passed: the job itself comes round once per
# interval, and a run that began a moment after the last round would otherwise wait two.
DUE_AT_FRACTION = 0.9


def eligible(environment: Environment) -> bool:
    """Whether the canary may write to this environment: production ones only when asked."""
    return settings.CANARY_INCLUDE_PRODUCTION or not environment.looks_like_production


def canary_body(now: datetime) -> dict:
    """One attributes object for the marked test user, its value changed on every run."""
    moment = now.astimezone(UTC).isoformat(timespec="milliseconds")
    attributes = {
        "external_id": settings.CANARY_EXTERNAL_ID,
        "bridge_canary_at": moment.replace("+00:00", "Z"),
    }
    return {"attributes": [attributes]}


def run_canary(environment: Environment) -> CanaryRun:
    """Run the canary for this environment now, due or not (eligibility is the caller's)."""
    return _complete(_start(environment, follows=None, now=timezone.now()))


def run_due_canaries() -> list[CanaryRun]:
    """Run the canary of every eligible environment that is due and that this process claims."""
    if settings.CANARY_INTERVAL_SECONDS <= 0:
        return []
    environments = [e for e in Environment.objects.order_by("name") if eligible(e)]
    claimed = [run for run in map(claim, environments) if run is not None]
    return [_complete(run) for run in claimed]


def claim(environment: Environment, now: datetime | None = None) -> CanaryRun | None:
    """The started run row that makes this process the one to run the environment's canary;
    None when it is not due, or another process claimed it first."""
    now = now or timezone.now()
    newest = CanaryRun.objects.filter(environment=environment).order_by("-started_at", "-id")
    newest = newest.only("pk", "started_at").first()
    if newest is not None and newest.started_at > now - _due_after():
        return None
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction
            return _start(environment, follows=newest.pk if newest else 0, now=now)
    except IntegrityError:
        return None  # another process inserted the follower of the same run first


def _due_after() -> timedelta:
    return timedelta(seconds=settings.CANARY_INTERVAL_SECONDS * DUE_AT_FRACTION)


def _start(environment: Environment, follows: int | None, now: datetime) -> CanaryRun:
    return CanaryRun.objects.create(
        environment=environment, started_at=now, ok=None, kind=RUNNING,
        summary="Running: the write is on its way to Braze.", url=environment.users_track_url,
        request_body=canary_body(now), follows=follows,
    )  # fmt: skip


def _complete(run: CanaryRun) -> CanaryRun:
    outcome = checks.check(run.environment, run.request_body)
    run.ok, run.kind, run.summary = outcome.ok, outcome.verdict.kind, outcome.verdict.summary
    run.url, run.response_status = outcome.call.url, outcome.call.status
    run.response_body = outcome.call.text[:MAX_ANSWER_CHARS]
    run.duration_ms = outcome.call.duration_ms
    run.save(update_fields=["ok", "kind", "summary", "url", "response_status", "response_body",
                            "duration_ms"])  # fmt: skip
    logger.info(
        "Canary for environment %s (%s): %s, %s",
        run.environment.name, run.environment.rest_endpoint, run.kind, outcome.verdict.seen,
    )  # fmt: skip
    return run
