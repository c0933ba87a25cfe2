"""Alerts: rules an admin configures, the state of each condition, and each message sent.

A rule names a condition (``AlertKind``) and where to tell (email recipients, a chat webhook).
Its ``AlertState`` rows, one per subject it watches (an environment or a mapping set), hold
whether the condition is firing now and what was last told, so evaluation is state-based:
nothing is lost between runs and nothing repeats. ``AlertNotification`` is the audit of every
message, written before it is sent and completed after.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from mappings import braze_endpoints, encryption
from mappings.models.config import Environment, MappingSet, TimestampedModel


class AlertKind(models.TextChoices):
    FAILURE_RATE = "failure_rate", "Braze failure rate over a threshold"
    DEAD_DELIVERY = "dead_delivery", "A delivery went dead"
    PARKED = "parked", "Environment parked by a credential error"
    QUEUE_AGE = "queue_age", "Oldest waiting delivery older than a threshold"
    CANARY_FAILING = "canary_failing", "Braze canary failing"


# The kinds a mapping set can narrow: the others are about a whole environment.
SET_SCOPED_KINDS = (AlertKind.FAILURE_RATE, AlertKind.DEAD_DELIVERY)
THRESHOLD_KINDS = (AlertKind.FAILURE_RATE, AlertKind.QUEUE_AGE)

KIND_HELP = (
    "failure_rate: the share of Braze calls that Braze did not answer 2xx (errors, timeouts, "
    "refused connections) in the last window_minutes is over threshold percent, with at least "
    "min_calls calls; bot data rejected by the mapping never counts. "
    "dead_delivery: a delivery gave up retrying within the last window_minutes. "
    "parked: Braze refused the environment's key or endpoint (401/403/404). "
    "queue_age: the oldest waiting delivery is older than threshold seconds. "
    "canary_failing: the environment's newest canary run failed."
)


def parse_recipients(text: str) -> list[str]:
    return [address.strip() for address in text.split(",") if address.strip()]


def validate_recipients(text: str) -> None:
    bad = []
    for address in parse_recipients(text):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not an email address: {', '.join(bad)}")


def validate_webhook_url(url: str) -> None:
    """https only; plain http only to a loopback host where the local fake Braze is allowed
    (a webhook receiver on this machine in local mode and tests). The message never names the
    URL: it is a secret and error messages are shown back on the page."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError("Enter a valid http(s) webhook URL") from None
    parts = urlsplit(url)
    local = braze_endpoints.is_loopback((parts.hostname or "").lower())
    if parts.scheme == "https" or (local and settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS):
        return
    raise ValidationError("The webhook URL must use https")


class AlertRule(TimestampedModel):
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=AlertKind.choices, help_text=KIND_HELP)
    environment = models.ForeignKey(
        Environment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text="Empty: every environment, each alerted on its own",
    )
    mapping_set = models.ForeignKey(
        MappingSet,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text="failure_rate and dead_delivery only: watch this mapping set alone",
    )
    threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="failure_rate: percent of calls (e.g. 20); queue_age: seconds (e.g. 600)",
    )
    window_minutes = models.PositiveIntegerField(
        default=15, help_text="failure_rate and dead_delivery: how far back to look"
    )
    min_calls = models.PositiveIntegerField(
        default=20,
        help_text="failure_rate: fewer Braze calls than this in the window never fire "
        "(one failed call of one is no outage)",
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=15,
        help_text="At most one message per subject within this long: a condition that starts "
        "and clears again inside it sends nothing more",
    )
    email_recipients = models.TextField(
        blank=True, validators=[validate_recipients], help_text="Comma-separated addresses"
    )
    webhook_url_ciphertext = models.TextField(blank=True, editable=False)
    webhook_url_last4 = models.CharField(max_length=4, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    # The webhook URL holds a token: only "it changed" (last 4) reaches the history table.
    history = HistoricalRecords(excluded_fields=["webhook_url_ciphertext"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_webhook_url(self) -> str:
        return f"…{self.webhook_url_last4}" if self.webhook_url_ciphertext else "(none)"

    def set_webhook_url(self, url: str) -> None:
        """Store the chat webhook URL encrypted; empty removes it."""
        self.webhook_url_ciphertext = encryption.encrypt(url) if url else ""
        self.webhook_url_last4 = url[-4:] if url else ""

    def webhook_url(self) -> str:
        """The plaintext URL, for the webhook call only. Raises SecretDecryptionError."""
        if not self.webhook_url_ciphertext:
            return ""
        return encryption.decrypt(self.webhook_url_ciphertext)

    def recipients(self) -> list[str]:
        return parse_recipients(self.email_recipients)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind in THRESHOLD_KINDS and self.threshold is None:
            unit = "a percent of calls" if self.kind == AlertKind.FAILURE_RATE else "seconds"
            errors["threshold"] = f"This kind needs a threshold ({unit})"
        if self.mapping_set_id and self.kind not in SET_SCOPED_KINDS:
            errors["mapping_set"] = "Only failure_rate and dead_delivery rules watch a mapping set"
        elif self.mapping_set_id and self.environment_id not in (None, self._set_environment()):
            errors["mapping_set"] = "This mapping set delivers to another environment"
        if not self.recipients() and not self.webhook_url_ciphertext:
            errors["email_recipients"] = "Give at least one channel: email recipients or a webhook"
        if errors:
            raise ValidationError(errors)

    def _set_environment(self) -> int:
        return self.mapping_set.environment_id


class AlertState(models.Model):
    """One rule's condition for one subject: firing now or not, and what was last told."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    subject = models.CharField(max_length=60, help_text="environment:<id> or mapping_set:<id>")
    subject_label = models.CharField(max_length=200)
    firing = models.BooleanField(default=False)
    since = models.DateTimeField(default=timezone.now, help_text="When it last started or cleared")
    summary = models.TextField(blank=True, help_text="The condition in words, when it last fired")
    link = models.TextField(blank=True, help_text="The log page filtered to what fired")
    # What the last message said (firing or cleared) and when: the next one waits the cool-down.
    notified_firing = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-firing", "-since"]
        verbose_name = "alert"
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject"], name="unique_alert_state_subject")
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject_label} {'firing' if self.firing else 'clear'}"


class AlertTransition(models.TextChoices):
    STARTED = "started", "Started"
    CLEARED = "cleared", "Cleared"


class AlertChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Chat webhook"


class AlertNotification(models.Model):
    """One message on one channel; ``ok`` is empty while it is being sent."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="notifications")
    subject_label = models.CharField(max_length=200)
    transition = models.CharField(max_length=10, choices=AlertTransition.choices)
    channel = models.CharField(max_length=10, choices=AlertChannel.choices)
    sent_at = models.DateTimeField(default=timezone.now)
    summary = models.TextField(blank=True)
    ok = models.BooleanField(null=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = "alert message"

    def __str__(self) -> str:
        return f"{self.rule} {self.transition} by {self.channel}"
