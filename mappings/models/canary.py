"""Braze canary runs: one marked test write per environment, and what Braze answered.

A run is its own audit row (the canary's Braze call is not a delivery: no conversation, no
mapping set), so it keeps the call as sent and answered, like a delivery attempt does.
"""

from django.db import models
from django.utils import timezone

from mappings.models.config import Environment


class CanaryRun(models.Model):
    """One canary call to an environment's Braze, with its verdict."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="canary_runs", db_index=False
    )
    started_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(help_text="Status, answer shape and key permission all as expected")
    kind = models.CharField(
        max_length=30, help_text="Verdict: ok, wrong_key, refused_key, bad_shape, outage, ..."
    )
    summary = models.TextField(help_text="What the verdict means, for the admin")
    url = models.URLField(blank=True)
    request_body = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["environment", "-started_at", "-id"], name="canary_env_newest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.started_at:%Y-%m-%d %H:%M} {self.kind}"
