"""Mapping versions: immutable snapshots of a mapping set, and the one draft being edited.

The live mapping stays in MappingSet and its FieldMapping rows (ingest and the engine read
those); a version is the set's config document (docs/config-format.md, never a secret) as it
was published, so any two can be compared and a delivery's ``mapping_version`` can be shown.
"""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from mappings.models.config import Environment, MappingSet


class MappingVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"  # live in its environment
        SUPERSEDED = "superseded"

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="versions")
    # The MappingSet.version it was published as; for the draft, the one it started from.
    number = models.PositiveIntegerField(null=True, blank=True)
    document = models.JSONField(help_text="The set's config document (no secrets)")
    status = models.CharField(max_length=12, choices=Status.choices)
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Where it is (or was) live. Today the set's own environment; promotion between
    # environments gives a set one published version per environment.
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="mapping_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["mapping_set", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping_set", "environment"],
                condition=models.Q(status="published"),
                name="one_live_version_per_environment",
            ),
            # One shared draft per set: two admins see (and preview) the same pending change
            # instead of two drafts where publishing one silently undoes the other.
            models.UniqueConstraint(
                fields=["mapping_set"], condition=models.Q(status="draft"), name="one_draft_per_set"
            ),
            models.UniqueConstraint(
                fields=["mapping_set", "environment", "number"],
                condition=~models.Q(status="draft"),
                name="unique_version_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mapping_set.slug} {self.label}"

    @property
    def label(self) -> str:
        if self.status == self.Status.DRAFT:
            return f"draft (from v{self.number})"
        return f"v{self.number}"

    def previous(self) -> "MappingVersion | None":
        """The version published before this one in the same environment."""
        earlier = MappingVersion.objects.filter(
            mapping_set_id=self.mapping_set_id, environment_id=self.environment_id
        ).exclude(status=self.Status.DRAFT)
        if self.status != self.Status.DRAFT:
            earlier = earlier.filter(number__lt=self.number)
        return earlier.order_by("-number").first()

    @classmethod
    def live(cls, mapping_set: MappingSet) -> "MappingVersion | None":
        return cls.objects.filter(
            mapping_set=mapping_set,
            environment_id=mapping_set.environment_id,
            status=cls.Status.PUBLISHED,
        ).first()

    @classmethod
    def draft_of(cls, mapping_set: MappingSet) -> "MappingVersion | None":
        return cls.objects.filter(mapping_set=mapping_set, status=cls.Status.DRAFT).first()

    @classmethod
    def save_draft(cls, mapping_set: MappingSet, document: dict, author) -> "MappingVersion":
        draft, _ = cls.objects.update_or_create(
            mapping_set=mapping_set,
            status=cls.Status.DRAFT,
            defaults={
                "document": document,
                "author": author,
                "number": mapping_set.version,
                "environment_id": mapping_set.environment_id,
            },
        )
        return draft

    @classmethod
    @transaction.atomic
    def record_published(
        cls, mapping_set: MappingSet, document: dict, *, note: str = "", author=None
    ) -> "MappingVersion":
        """``document`` is now live as ``mapping_set.version``; the version before is superseded.

        A set delivers to one environment today, so every earlier published version of it is
        superseded (also one left in an environment the set moved away from); promotion will
        scope this to the environment published to. A pending draft is left alone: an import
        must not throw away someone's unpublished work (the draft shows what it started from).
        """
        published = cls.objects.filter(mapping_set=mapping_set, status=cls.Status.PUBLISHED)
        published.update(status=cls.Status.SUPERSEDED)
        return cls.objects.create(
            mapping_set=mapping_set,
            number=mapping_set.version,
            document=document,
            status=cls.Status.PUBLISHED,
            note=note,
            author=author,
            environment_id=mapping_set.environment_id,
            published_at=timezone.now(),
        )
