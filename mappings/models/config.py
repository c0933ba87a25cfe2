"""Configuration that admins edit: where to send, with which key, and how to map."""

import hashlib
import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from simple_history.models import HistoricalRecords

from mappings import braze_endpoints, encryption
from mappings.engine import spec
from mappings.engine.spec import MappingSpec, RowSpec

# Sent when configuration is written without save() (queryset updates), which sends no post_save:
# caches of configuration (mappings/api/config_lookups.py) listen to both.
config_changed = Signal()


def source_path_validator(value: str) -> None:
    """A JMESPath path, like user.email or session.answers[2].value."""
    problem = spec.path_problem(value)
    if problem:
        raise ValidationError(problem)


def transforms_validator(value) -> None:
    problems = spec.transform_problems(value)
    if problems:
        raise ValidationError([str(problem) for problem in problems])


# Names that say production: "prod", "production", or either followed by "-" or "_"
# ("prod-eu", "production_2"). Test data (send_test, the Braze canary) stays out unless asked.
PRODUCTION_NAME = re.compile(r"^prod(uction)?([-_].*)?$", re.IGNORECASE)


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Environment(TimestampedModel):
    """A Braze workspace we deliver to (sandbox, prod, ...)."""

    name = models.SlugField(
        max_length=50, unique=True, help_text="Short name, like sandbox or prod"
    )
    rest_endpoint = models.URLField(
        "Braze REST endpoint",
        validators=[braze_endpoints.validate_rest_endpoint],
        help_text="Your instance's REST host, e.g. https://rest.iad-01.braze.com",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.rest_endpoint = braze_endpoints.normalise(self.rest_endpoint)
        super().save(*args, **kwargs)

    @property
    def looks_like_production(self) -> bool:
        return bool(PRODUCTION_NAME.match(self.name))

    @property
    def users_track_url(self) -> str:
        return f"{self.rest_endpoint}/users/track"

    def store_api_key(self, api_key: str) -> "BrazeCredential":
        """Set this environment's Braze REST key, replacing the one it had (encrypted at rest)."""
        credential = BrazeCredential.objects.filter(environment=self).first()
        credential = credential or BrazeCredential(environment=self)
        credential.set_api_key(api_key)
        credential.save()
        return credential


class BrazeCredential(TimestampedModel):
    """The REST API key of an environment, encrypted at rest; only its last 4 are ever shown."""

    environment = models.OneToOneField(
        Environment, on_delete=models.CASCADE, related_name="credential"
    )
    api_key_ciphertext = models.TextField(editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)
    # The ciphertext stays out of the history table: only "the key changed" (last 4) is kept.
    history = HistoricalRecords(excluded_fields=["api_key_ciphertext"])

    class Meta:
        verbose_name = "Braze credential"

    def __str__(self) -> str:
        return f"{self.environment} key {self.masked_key}"

    @property
    def masked_key(self) -> str:
        return f"••••{self.api_key_last4}" if self.api_key_last4 else "(not set)"

    def set_api_key(self, api_key: str) -> None:
        self.api_key_ciphertext = encryption.encrypt(api_key)
        self.api_key_last4 = api_key[-4:]

    def api_key(self) -> str:
        """The plaintext key, for the Braze call only. Raises SecretDecryptionError."""
        return encryption.decrypt(self.api_key_ciphertext)


class MappingSet(TimestampedModel):
    """How one bot's conversation JSON becomes a Braze /users/track body."""

    slug = models.SlugField(max_length=80, unique=True, help_text="Used in the ingest URL")
    name = models.CharField(max_length=200)
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="mapping_sets"
    )
    is_active = models.BooleanField(default=True)
    identifier_source_path = models.CharField(
        "user identifier source path",
        max_length=255,
        validators=[source_path_validator],
        help_text="JMESPath path of the user identifier in the conversation JSON, like user.id",
    )
    identifier_type = models.CharField(
        max_length=20,
        choices=[
            ("external_id", "external_id"),
            ("user_alias", "user alias (label below, name from the path)"),
            ("email", "email (no external_id)"),
            ("phone", "phone (no external_id)"),
        ],
        default="external_id",
        help_text="How Braze identifies the user",
    )
    alias_label = models.CharField(
        max_length=100, blank=True, help_text="For a user alias: its alias_label, like bot_session"
    )
    identifier_transforms = models.JSONField(
        default=list,
        blank=True,
        validators=[transforms_validator],
        help_text='Transforms for the identifier, like ["trim", "lower"] or '
        '[{"name": "phone", "region": "US"}]',
    )
    on_problem = models.CharField(
        "when a value is unusable",
        max_length=20,
        choices=[
            ("reject", "reject the whole record (422 listing the problems)"),
            ("drop_field", "drop only the bad fields, send the rest (problems logged)"),
        ],
        default="reject",
    )
    braze_partner = models.CharField(
        max_length=100,
        blank=True,
        help_text='Sent as Braze\'s top-level "partner" field when set (e.g. pypestream)',
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Goes up on every change to the set or its rows"
    )
    delivery_mode = models.CharField(
        max_length=10,
        choices=[("sync", "Sync: wait for Braze"), ("async", "Async: answer 202 at once")],
        default="sync",
        help_text="Sync answers delivered/failed/queued within a time budget (for flows that "
        "branch); async answers 202 at once and batches. A request may override it (?mode=).",
    )
    dedup_unchanged_attributes = models.BooleanField(
        default=False,
        help_text="Skip attributes whose value was already delivered for that user "
        "(saves Braze data points); skipped attributes are logged on the delivery",
    )
    sync_budget_seconds = models.FloatField(
        "sync budget (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Sync mode answers within this long of the request's arrival, keep it under "
        "your bot platform's own timeout (e.g. 4 for Dialogflow's 5 s). Empty: the "
        "DELIVERY_SYNC_BUDGET_SECONDS setting.",
    )
    partial_success = models.CharField(
        "when Braze refuses part of a record",
        max_length=10,
        choices=[
            ("fail", "Failure: the bot takes its failure path"),
            ("warn", "Success with warnings: the bot goes on, Braze's refusals are listed"),
        ],
        default="fail",
        help_text="Braze can accept a request (201) and still refuse some of its objects (an "
        "event, a purchase, an attribute object): how that is answered to the bot. The delivery "
        "is logged as failed either way, with Braze's error for each refused object.",
    )
    lookup_ttl_seconds = models.PositiveIntegerField(
        "lookup cache (seconds)",
        default=300,
        help_text="How long a profile read from Braze for a lookup is answered from our cache; "
        "a write to that user through us clears it at once",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def bump_version(self) -> None:
        """Record that the mapping changed; deliveries keep the version that mapped them."""
        MappingSet.objects.filter(pk=self.pk).update(version=models.F("version") + 1)
        self.refresh_from_db(fields=["version"])
        config_changed.send(sender=MappingSet)

    def touch(self) -> None:
        """Mark the set changed (its rows changed) so cached compiled mappings are not reused."""
        now = timezone.now()
        MappingSet.objects.filter(pk=self.pk).update(updated_at=now)
        self.updated_at = now
        config_changed.send(sender=MappingSet)

    def to_spec(self, rows=None) -> MappingSpec:
        """The plain-data mapping the engine runs (no ORM past this point)."""
        return MappingSpec(
            identifier_path=self.identifier_source_path,
            rows=tuple(row.to_spec() for row in (self.rows.all() if rows is None else rows)),
            partner=self.braze_partner or None,
            identifier_type=self.identifier_type,
            identifier_transforms=tuple(self.identifier_transforms or ()),
            alias_label=self.alias_label,
            on_problem=self.on_problem,
        )


class FieldMapping(TimestampedModel):
    """One row: a value at a source path becomes a Braze attribute."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField(default=0)
    source_type = models.CharField(
        max_length=10,
        choices=[(kind, kind) for kind in spec.SOURCE_TYPES],
        default="path",
        help_text="path: JMESPath into the conversation; constant: this text; "
        "template: text with {path} placeholders",
    )
    source_path = models.CharField(
        "source",
        max_length=1000,
        help_text="user.email, session.answers[2].value, or for a template "
        '"{user.first_name} {user.last_name}"',
    )
    transforms = models.JSONField(
        default=list,
        blank=True,
        validators=[transforms_validator],
        help_text='Applied in order, e.g. ["trim", {"name": "phone", "region": "BR"}]',
    )
    target_attribute = models.CharField(
        "Braze target",
        max_length=255,
        validators=[RegexValidator(r"^[^$]", "Braze attribute names must not start with $")],
        help_text="A standard attribute (email, dob, ...), a custom attribute name, "
        "events[0].name / .time / .properties.<key>, or purchases[0].product_id / .currency / "
        ".price / .quantity / .time / .properties.<key>",
    )
    operation = models.CharField(
        max_length=10,
        choices=[(op, op) for op in spec.OPERATIONS],
        default="set",
        help_text="For custom attributes: set, increment, add/remove (array items), merge "
        "(nested object)",
    )
    required = models.BooleanField(
        default=False, help_text="Reject the ingest (422) when this source field is missing"
    )
    is_sensitive = models.BooleanField(
        "sensitive",
        default=False,
        help_text="Mask this attribute's value in log pages and exports (Braze still gets it)",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping_set", "target_attribute"], name="unique_target_per_mapping_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_path} → {self.target_attribute}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.mapping_set.touch()

    def delete(self, *args, **kwargs):
        mapping_set = self.mapping_set
        result = super().delete(*args, **kwargs)
        mapping_set.touch()
        return result

    def to_spec(self) -> RowSpec:
        return RowSpec(
            source_path=self.source_path,
            target=self.target_attribute,
            required=self.required,
            source_type=self.source_type,
            transforms=tuple(self.transforms or ()),
            operation=self.operation,
            sensitive=self.is_sensitive,
            # Counted from 1 like the admin's "Row N" messages (positions start at 0).
            label=f"row {self.position + 1}",
        )


TOKEN_PREFIX = "bzb_"  # noqa: S105 - a public prefix that makes leaked tokens greppable
SIGNING_SECRET_PREFIX = "bzs_"  # noqa: S105 - public prefix, as above

rate_validator = RegexValidator(
    r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$",
    "Use a number of requests per period, like 600/min, 20/s or 10000/day",
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(TimestampedModel):
    """A conversation platform allowed to call the ingest API. Its token is stored hashed."""

    name = models.CharField(max_length=200, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=16, editable=False, help_text="First characters")
    mapping_sets = models.ManyToManyField(MappingSet, blank=True, related_name="api_clients")
    is_active = models.BooleanField(default=True, help_text="Untick to revoke the token")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The token stops working at this time; empty: never"
    )
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        validators=[rate_validator],
        help_text="Requests allowed, like 600/min; empty: the API_THROTTLE_RATE setting",
    )
    signing_secret_ciphertext = models.TextField(blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # last_used_at changes on every request: history would be noise, and the hash is a secret.
    history = HistoricalRecords(
        excluded_fields=["token_hash", "last_used_at", "signing_secret_ciphertext"]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    # DRF treats the authenticated principal as request.user.
    is_authenticated = True

    def issue_token(self) -> str:
        """Set a new random token and return it; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_hint = token[: len(TOKEN_PREFIX) + 4]
        return token

    def issue_signing_secret(self) -> str:
        """Require HMAC-signed requests from now on; return the new shared secret (shown once).

        Stored encrypted, not hashed: verifying a signature needs the secret itself.
        """
        secret = SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)
        self.signing_secret_ciphertext = encryption.encrypt(secret)
        return secret

    def disable_signing(self) -> None:
        self.signing_secret_ciphertext = ""

    @property
    def signs_requests(self) -> bool:
        return bool(self.signing_secret_ciphertext)

    def signing_secret(self) -> str:
        """The plaintext shared secret, for verifying a signature only."""
        return encryption.decrypt(self.signing_secret_ciphertext)

    def is_expired(self, now) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def may_use_expression(self) -> models.Exists:
        """Whether this client may use a mapping set, as an annotation on MappingSet queries
        (the permission check rides on the lookup instead of costing a query per request)."""
        links = ApiClient.mapping_sets.through.objects.filter(
            apiclient_id=self.pk, mappingset_id=models.OuterRef("pk")
        )
        return models.Exists(links)
