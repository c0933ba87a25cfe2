"""The audit trail: every accepted or rejected ingest, and every Braze call made for it.

A Delivery is one conversation payload received for a mapping set; a DeliveryAttempt is one
HTTP call to Braze on its behalf. The attempt row is written before the call and updated after,
so a crash mid-call still leaves a trace. The Braze API key is never stored here.
"""

import uuid

from django.conf import settings
from django.db import models

from mappings.models.config import ApiClient, Environment, MappingSet


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead (gave up)"
    REJECTED = "rejected", "Rejected (mapping)"


# Deliveries that may still reach Braze without anyone acting: never purged, counted as queue.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT, DeliveryStatus.RETRYING)
# Deliveries that ended without reaching Braze and can be replayed by hand.
REPLAYABLE_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)


class AttemptOutcome(models.TextChoices):
    PENDING = "pending", "Pending (call in progress or interrupted)"
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial success"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    mapping_set = models.ForeignKey(MappingSet, on_delete=models.PROTECT, related_name="deliveries")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deliveries"
    )
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    external_id = models.CharField(max_length=987, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=255, blank=True, db_index=True)
    mapping_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Version of the mapping set that produced braze_payload"
    )
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    reason = models.TextField(blank=True, help_text="Why it failed or was rejected")
    received_payload = models.JSONField(help_text="The conversation JSON as received")
    braze_payload = models.JSONField(
        null=True, blank=True, help_text="The mapped /users/track body"
    )
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        permissions = [("replay_delivery", "Can replay a failed or dead delivery")]
        # The log pages read newest first, keyset-paginated on (created_at, id), optionally
        # narrowed by one of these columns: each index serves one such view without a scan.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="delivery_newest_idx"),
            models.Index(
                fields=["environment", "-created_at", "-id"], name="delivery_env_newest_idx"
            ),
            models.Index(
                fields=["mapping_set", "-created_at", "-id"], name="delivery_set_newest_idx"
            ),
            models.Index(
                fields=["api_client", "-created_at", "-id"], name="delivery_client_newest_idx"
            ),
            models.Index(
                fields=["status", "-created_at", "-id"], name="delivery_status_newest_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mapping_set.slug} {self.external_id or '?'} {self.status}"


class DeliveryAttempt(models.Model):
    """One call to Braze /users/track."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="attempts")
    attempt_number = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="attempts")
    mapping_set = models.ForeignKey(MappingSet, on_delete=models.PROTECT, related_name="attempts")
    url = models.URLField()
    request_body = models.JSONField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who replayed it by hand; empty for automatic attempts",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "Braze call"
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="attempt_newest_idx"),
            models.Index(
                fields=["environment", "-created_at", "-id"], name="attempt_env_newest_idx"
            ),
            models.Index(
                fields=["mapping_set", "-created_at", "-id"], name="attempt_set_newest_idx"
            ),
            models.Index(
                fields=["outcome", "-created_at", "-id"], name="attempt_outcome_newest_idx"
            ),
            models.Index(
                fields=["response_status", "-created_at", "-id"], name="attempt_status_newest_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "attempt_number"], name="unique_attempt_number_per_delivery"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.attempt_number} {self.url} → {self.response_status or self.outcome}"
