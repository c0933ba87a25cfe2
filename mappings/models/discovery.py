"""Field discovery: which source paths a mapping set's conversations contain (never values)."""

from django.db import models

from mappings.models.config import MappingSet


class SeenPath(models.Model):
    """A JMESPath path seen in received conversations, with the JSON types seen there."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="seen_paths")
    path = models.CharField(max_length=500)
    types = models.JSONField(default=list, help_text="JSON types seen: string, number, ...")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["mapping_set", "path"], name="unique_seen_path")
        ]

    def __str__(self) -> str:
        return f"{self.path} ({', '.join(self.types)})"
