"""The audit trail: every accepted or rejected ingest, and every Braze call made for it.

A Delivery is one conversation payload received for a mapping set; a DeliveryAttempt is one
HTTP call to Braze on its behalf, written by the sender just before the call and updated after,
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
# A re-mapping replay also takes the ones the mapping rejected: the current mapping may not.
REMAPPABLE_STATUSES = (*REPLAYABLE_STATUSES, DeliveryStatus.REJECTED)


class AttemptOutcome(models.TextChoices):
    PENDING = "pending", "Pending (call in progress or interrupted)"
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial success"
    FAILED = "failed", "Failed"


# A Braze call that Braze answered 2xx: the whole request, or part of it, was accepted (the
# dashboard's last success, and the alerts' failure rate, read it).
ANSWERED_OK = (AttemptOutcome.SUCCESS, AttemptOutcome.PARTIAL)

# Indexes cost every write: a delivery row is written four times on its way to Braze (ingest,
# claim, attempt count, outcome) and its attempt twice (sent, answered), each write touching
# every index of the table (unless PostgreSQL can make it a HOT update: no indexed column changed).
# So no single-column index where a composite below starts with the same column (db_index=False
# on those fields): the composite serves the same lookups.


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    mapping_set = models.ForeignKey(
        MappingSet, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    api_client = models.ForeignKey(
        ApiClient,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
        db_index=False,
    )
    external_id = models.CharField(max_length=987, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    platform = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="The bot platform whose webhook route sent it (empty: the generic ingest API)",
    )
    mapping_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Version of the mapping set that produced braze_payload"
    )
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    reason = models.TextField(blank=True, help_text="Why it failed or was rejected")
    received_payload = models.JSONField(help_text="The conversation JSON as received")
    braze_payload = models.JSONField(
        null=True, blank=True, help_text="The mapped /users/track body"
    )
    problems = models.JSONField(default=list, blank=True)
    skipped_attributes = models.JSONField(
        default=list, blank=True, help_text="Attributes left out: unchanged since last delivered"
    )
    # Braze's bill (mappings/engine/data_points.py), counted from the body when it is stored:
    # the body a delivery sends never changes, so the count is what its delivery spends.
    data_points = models.PositiveIntegerField(
        default=0, help_text="Braze data points the body sent spends once delivered"
    )
    data_points_saved = models.PositiveIntegerField(
        default=0, help_text="Data points not spent: the unchanged attributes left out"
    )
    # The outbox: when a worker may try next, and who holds it while in flight.
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Idempotency: the request's fingerprint and the answer given, replayed for a repeat.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    answer_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Text, not JSON: PostgreSQL's jsonb reorders keys, and a repeat must get the same bytes.
    answer_body = models.TextField(blank=True)

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
            # The delivery engine's own lookups: due work per environment in the order it is
            # claimed (partial: only waiting rows, so a claim reads its first N and stops, and
            # rows leaving the queue cost this index nothing), one user's order.
            models.Index(
                fields=["environment", "next_attempt_at", "created_at"],
                condition=models.Q(status__in=["pending", "retrying"]),
                name="delivery_claim_idx",
            ),
            models.Index(
                fields=["environment", "external_id", "created_at"], name="delivery_user_order_idx"
            ),
            # Every ingest inserts into each index here, so the ones below skip what most rows
            # hold (no lease, no key) and none is a LIKE-pattern copy (searches are exact).
            models.Index(
                fields=["lease_token"],
                condition=models.Q(lease_token__isnull=False),
                name="delivery_lease_idx",
            ),
            # The log's search box: a user id in any environment, or an Idempotency-Key.
            models.Index(fields=["external_id"], name="delivery_external_id_idx"),
            models.Index(
                fields=["idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="delivery_idempotency_key_idx",
            ),
        ]
        constraints = [
            # Concurrent repeats of one key collide here, so only one reaches Braze.
            models.UniqueConstraint(
                fields=["api_client", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_idempotency_key_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"{self.mapping_set.slug} {self.external_id or '?'} {self.status}"


class DeliveryAttempt(models.Model):
    """One call to Braze /users/track."""

    # Indexes: see the note above Delivery (the unique constraint below serves ``delivery``).
    delivery = models.ForeignKey(
        Delivery, on_delete=models.PROTECT, related_name="attempts", db_index=False
    )
    attempt_number = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="attempts", db_index=False
    )
    mapping_set = models.ForeignKey(
        MappingSet, on_delete=models.PROTECT, related_name="attempts", db_index=False
    )
    url = models.URLField()
    request_body = models.JSONField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.PENDING
    )
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the request left; empty = not sent yet"
    )
    batch_id = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="Attempts sent in the same HTTP request"
    )
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    ambiguous = models.BooleanField(
        default=False,
        help_text="Timeout, reset or worker lost mid-request: Braze may have applied it",
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who replayed it by hand; empty for automatic attempts",
    )
    mapping_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Mapping set version that produced request_body (recorded on replays)",
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


class DeliveryGate(models.Model):
    """Per-environment traffic state shared by every worker: 429 waits and credential pauses.

    Kept apart from Environment so frequent updates never touch configuration or its history.
    """

    environment = models.OneToOneField(
        Environment, on_delete=models.CASCADE, related_name="delivery_gate"
    )
    blocked_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_reason = models.TextField(
        blank=True, help_text="Set on 401/403/404; cleared when the environment or key is saved"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.environment} gate"


class DeliveredAttributes(models.Model):
    """Digests of the attribute values last delivered per user, for the opt-in dedup of
    unchanged values (digests, not values: see dispatch.value_digest)."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=987)
    values = models.JSONField(default=dict, help_text="Attribute name -> SHA-256 of its value")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "external_id"], name="unique_delivered_attributes_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment_id}:{self.external_id}"
