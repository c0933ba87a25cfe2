"""Braze canary runs: one marked test write per environment, and what Braze answered.

A run is its own audit row (the canary's Braze call is not a delivery: no conversation, no
mapping set), so it keeps the call as sent and answered, like a delivery attempt does. It is
written before the call (``ok`` empty, kind "running") and completed after, so a crash mid-call
still leaves a trace; the newest *finished* run is the environment's canary verdict.

A scheduled run claims its turn by the row it writes: ``follows`` is the id of the run it saw as
the newest (0 for an environment's first), unique per environment, so of two processes that saw
the same newest run only one can insert its follower (the other gets an IntegrityError and sends
nothing). Runs asked by hand (``manage.py run_canary``) follow nothing (empty).
"""

from django.db import models
from django.utils import timezone

from mappings.models.config import Environment

RUNNING = "running"  # the kind of a run whose call is in flight (or was cut by a crash)


class CanaryRunQuerySet(models.QuerySet):
    def finished(self) -> "CanaryRunQuerySet":
        """Runs with a verdict: the newest of these is what the dashboard and alerts judge."""
        return self.filter(ok__isnull=False)


class CanaryRun(models.Model):
    """One canary call to an environment's Braze, with its verdict."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="canary_runs", db_index=False
    )
    started_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(
        null=True,
        help_text="Status, answer shape and key permission all as expected; empty while running",
    )
    kind = models.CharField(
        max_length=30, help_text="Verdict: ok, wrong_key, refused_key, bad_shape, outage, ..."
    )
    summary = models.TextField(help_text="What the verdict means, for the admin")
    url = models.URLField(blank=True)
    request_body = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    follows = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The run this scheduled run followed (0: none before it); empty: run by hand",
    )

    objects = CanaryRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["environment", "-started_at", "-id"], name="canary_env_newest_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "follows"], name="canary_one_follower_per_run"
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.started_at:%Y-%m-%d %H:%M} {self.kind}"
