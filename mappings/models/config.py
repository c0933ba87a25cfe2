"""Configuration that admins edit: where to send, with which key, and how to map."""

import hashlib
import hmac
import secrets

from django.core.validators import RegexValidator
from django.db import models

from mappings import braze_endpoints, encryption
from mappings.services.mapping import MappingSpec, RowSpec

source_path_validator = RegexValidator(
    r"^[A-Za-z0-9_\-]+(\[\d+\])*(\.[A-Za-z0-9_\-]+(\[\d+\])*)*$",
    "Use a dotted path into the conversation JSON, like user.email or answers[0].value",
)


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.rest_endpoint = braze_endpoints.normalise(self.rest_endpoint)
        super().save(*args, **kwargs)

    @property
    def users_track_url(self) -> str:
        return f"{self.rest_endpoint}/users/track"


class BrazeCredential(TimestampedModel):
    """The REST API key of an environment, encrypted at rest; only its last 4 are ever shown."""

    environment = models.OneToOneField(
        Environment, on_delete=models.CASCADE, related_name="credential"
    )
    api_key_ciphertext = models.TextField(editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)

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
        help_text="Path of the user id in the conversation JSON; sent as Braze external_id",
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

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def bump_version(self) -> None:
        """Record that the mapping changed; deliveries keep the version that mapped them."""
        MappingSet.objects.filter(pk=self.pk).update(version=models.F("version") + 1)
        self.refresh_from_db(fields=["version"])

    def to_spec(self) -> MappingSpec:
        """The plain-data mapping the engine runs (no ORM past this point)."""
        return MappingSpec(
            identifier_path=self.identifier_source_path,
            rows=tuple(
                RowSpec(
                    source_path=row.source_path, target=row.target_attribute, required=row.required
                )
                for row in self.rows.all()
            ),
            partner=self.braze_partner or None,
        )


class FieldMapping(TimestampedModel):
    """One row: a value at a source path becomes a Braze attribute."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField(default=0)
    source_path = models.CharField(
        max_length=255,
        validators=[source_path_validator],
        help_text="Dotted path in the conversation JSON, like user.email",
    )
    target_attribute = models.CharField(
        "Braze attribute",
        max_length=255,
        validators=[RegexValidator(r"^[^$]", "Braze attribute names must not start with $")],
        help_text="Braze standard attribute (email, first_name, ...) or a custom attribute name",
    )
    required = models.BooleanField(
        default=False, help_text="Reject the ingest (422) when this source field is missing"
    )
    is_sensitive = models.BooleanField(
        "sensitive",
        default=False,
        help_text="Mask this attribute's value in log pages and exports (Braze still gets it)",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping_set", "target_attribute"], name="unique_target_per_mapping_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_path} → {self.target_attribute}"


TOKEN_PREFIX = "bzb_"  # noqa: S105 - a public prefix that makes leaked tokens greppable


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(TimestampedModel):
    """A conversation platform allowed to call the ingest API. Its token is stored hashed."""

    name = models.CharField(max_length=200, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=16, editable=False, help_text="First characters")
    mapping_sets = models.ManyToManyField(MappingSet, blank=True, related_name="api_clients")
    is_active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

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

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_token(token))

    def may_use(self, mapping_set: MappingSet) -> bool:
        return self.mapping_sets.filter(pk=mapping_set.pk).exists()
