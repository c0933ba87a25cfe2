"""Lookups: what a bot may read back from Braze about its user, and the log of every read.

A mapping set's write rows (``FieldMapping``) say how the conversation becomes Braze attributes;
its read rows (``LookupField``) say which Braze profile fields a bot may ask for, and under which
name the bot gets each. Only the fields of read rows are ever asked of Braze.
"""

from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from mappings.engine import spec
from mappings.models.config import ApiClient, Environment, MappingSet, transforms_validator


def braze_field_validator(value: str) -> None:
    problem = spec.lookup_field_problem(value)
    if problem:
        raise ValidationError(problem)


class LookupField(models.Model):
    """One read row: a Braze profile field becomes one of the bot's parameters."""

    mapping_set = models.ForeignKey(
        MappingSet, on_delete=models.CASCADE, related_name="lookup_fields"
    )
    position = models.PositiveIntegerField(default=0)
    braze_field = models.CharField(
        "Braze field",
        max_length=255,
        validators=[braze_field_validator],
        help_text="A profile field of /users/export/ids (first_name, email, dob, ...) or a "
        "custom attribute: custom_attributes.tier, custom_attributes.address.city",
    )
    bot_name = models.CharField(
        "name in the bot",
        max_length=255,
        help_text="The CX session parameter, Rasa slot, Voiceflow variable... the value gets",
    )
    transforms = models.JSONField(
        default=list,
        blank=True,
        validators=[transforms_validator],
        help_text='Applied in order to the value read, e.g. ["trim", "upper"]',
    )
    is_sensitive = models.BooleanField(
        "sensitive",
        default=False,
        help_text="Never shown in our log; the bot still gets it",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping_set", "bot_name"], name="unique_bot_name_per_mapping_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.braze_field} → {self.bot_name}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.mapping_set.touch()  # compiled read rows are cached by the set's updated_at

    def delete(self, *args, **kwargs):
        mapping_set = self.mapping_set
        result = super().delete(*args, **kwargs)
        mapping_set.touch()
        return result

    def to_spec(self) -> spec.LookupRowSpec:
        return spec.LookupRowSpec(
            braze_field=self.braze_field,
            bot_name=self.bot_name,
            transforms=tuple(self.transforms or ()),
            sensitive=self.is_sensitive,
            label=f"read row {self.position + 1}",  # counted from 1, as the admin counts
        )


class LookupOutcome(models.TextChoices):
    HIT = "hit"  # answered from our cache
    MISS = "miss"  # read from Braze
    NOT_FOUND = "not_found"  # Braze knows no such user (from Braze or from cache)
    BRAZE_SLOW = "braze_slow"  # no answer within the bot's budget
    BRAZE_REFUSED = "braze_refused"  # Braze said no (a key without export permission, a 4xx)
    RATE_LIMITED_FROM_CACHE = "rate_limited_from_cache"  # budget spent, a stale entry answered
    RATE_LIMITED_UNKNOWN = "rate_limited_unknown"  # budget spent, nothing cached
    UNIDENTIFIED = "unidentified"  # the conversation names no usable user


class Lookup(models.Model):
    """One lookup as it was answered. No profile values are stored: the fields asked, not what
    Braze holds in them."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    platform = models.CharField(max_length=40, blank=True, help_text="Empty: the generic route")
    external_id = models.CharField(max_length=987, blank=True)
    fields = models.JSONField(default=list, help_text="The Braze fields asked for")
    outcome = models.CharField(max_length=30, choices=LookupOutcome.choices)
    latency_ms = models.PositiveIntegerField(default=0)
    detail = models.CharField(max_length=500, blank=True, help_text="Why, for a failure")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["environment", "-created_at"], name="lookup_env_newest_idx"),
            models.Index(fields=["external_id"], name="lookup_external_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id or '?'} {self.outcome}"


class LookupSettings(MappingSet):
    """A mapping set seen for its lookups only: the admin's "Lookups" page edits its TTL and
    read rows there, apart from the write rows' draft-and-publish page."""

    class Meta:
        proxy = True
        verbose_name = "lookup configuration"
        verbose_name_plural = "lookup configurations"
