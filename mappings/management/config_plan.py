"""What an import or a promotion would change, field by field, before anything is written.

The change is made for real inside a transaction that is then rolled back, and each set's
document is read before and after: the diff is what the write does (defaults filled in, rows
matched by target, read rows by their name in the bot), not a guess from the file's text.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from mappings.management import config_diff, config_io
from mappings.models import MappingSet


@dataclass(frozen=True)
class SetChange:
    slug: str
    created: bool
    diff: config_diff.DocumentDiff

    def lines(self) -> list[str]:
        """The diff as text: one line per setting, row and row field (field: old -> new); read
        rows after the write rows, named by their name in the bot."""
        head = f"{self.slug}: {'new mapping set, ' if self.created else ''}{self.diff.summary()}"
        lines = [head]
        for change in self.diff.settings:
            lines.append(f"  setting {change.field}: {change.old_text} -> {change.new_text}")
        for noun, rows in (("row", self.diff.rows), ("read row", self.diff.read_rows)):
            for row in rows:
                lines += self._row_lines(noun, row)
        return lines

    def _row_lines(self, noun: str, row: config_diff.RowChange) -> list[str]:
        lines = [f"  {noun} {row.target} {row.kind}"]
        if row.kind != "added" or not self.created:
            lines += [
                f"    {change.field}: {change.old_text} -> {change.new_text}"
                for change in row.changes
            ]
        return lines


class _Rollback(Exception):
    """Leaves the planning transaction with nothing written."""


def _current_documents(slugs: list[str]) -> dict[str, dict[str, Any]]:
    sets = MappingSet.objects.select_related("environment").prefetch_related(
        "rows", "lookup_fields"
    )
    return {
        mapping_set.slug: config_io.mapping_set_document(mapping_set)
        for mapping_set in sets.filter(slug__in=slugs)
    }


def plan_import(document: Any) -> list[SetChange]:
    """Each mapping set of a valid ``document`` and what importing it would change in it.

    Raises ``config_io.InvalidConfig`` like the import itself would.
    """
    config_io.import_document(document, dry_run=True)  # validation only
    slugs = [value["slug"] for value in document.get("mapping_sets", [])]
    before = _current_documents(slugs)
    after: dict[str, dict[str, Any]] = {}
    try:
        with transaction.atomic():
            config_io.import_document(document, note="planned")
            after = _current_documents(slugs)
            raise _Rollback
    except _Rollback:
        pass
    return [
        SetChange(
            slug, slug not in before, config_diff.diff_documents(before.get(slug), after[slug])
        )
        for slug in slugs
    ]


def plan_set(value: dict[str, Any], target: MappingSet | None) -> SetChange:
    """What writing one valid set document (into ``target``, else by slug) would change."""
    slug = target.slug if target is not None else value["slug"]
    before = _current_documents([slug]).get(slug)
    try:
        with transaction.atomic():
            # A copy: the write sets fields (and the version) on the instance it is given,
            # and the rollback would not undo them on the caller's.
            copy = MappingSet.objects.get(pk=target.pk) if target is not None else None
            written = config_io.write_mapping_set(value, target=copy, note="planned")
            after = _current_documents([written.mapping_set.slug])[written.mapping_set.slug]
            raise _Rollback
    except _Rollback:
        pass
    return SetChange(value["slug"], before is None, config_diff.diff_documents(before, after))
