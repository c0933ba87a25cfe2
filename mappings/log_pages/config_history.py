"""Who changed what: recent configuration changes across the history tables, with diffs, and
the mapping versions they produced (each with what it changed from the version before)."""

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse

from mappings.management import config_diff
from mappings.models import (
    ApiClient,
    BrazeCredential,
    Delivery,
    Environment,
    FieldMapping,
    LookupField,
    MappingSet,
    MappingVersion,
)

TRACKED = [Environment, BrazeCredential, MappingSet, FieldMapping, LookupField, ApiClient]


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object
    note: str = ""  # instead of old -> new: "added", "removed"


@dataclass(frozen=True)
class ConfigChange:
    when: datetime
    who: str
    kind: str  # "Created", "Changed", "Deleted", "Published"
    model: str
    target: str
    changes: list[Change]
    record: object
    link: str = ""  # the mapping version page, for a published version


NO_USER = "(no user: shell or import)"


def _changes(record) -> list[Change]:
    previous = record.prev_record
    if previous is None:
        return []
    delta = record.diff_against(previous)
    return [Change(c.field, c.old, c.new) for c in delta.changes]


def _as_change(record) -> ConfigChange:
    return ConfigChange(
        when=record.history_date,
        who=str(record.history_user) if record.history_user else NO_USER,
        kind=record.get_history_type_display(),
        model=record.instance_type._meta.verbose_name,
        target=str(record.instance),
        changes=_changes(record),
        record=record,
    )


def recent_changes(limit: int = 50) -> list[ConfigChange]:
    """The latest ``limit`` changes to any tracked configuration model, newest first."""
    records = []
    for model in TRACKED:
        latest = model.history.select_related("history_user").order_by("-history_date")[:limit]
        records.extend(latest)
    changes = [_as_change(record) for record in records] + _published_versions(limit)
    changes.sort(key=lambda change: change.when, reverse=True)
    return changes[:limit]


def _version_changes(diff: config_diff.DocumentDiff) -> list[Change]:
    lines = [Change(f"setting {c.field}", c.old, c.new) for c in diff.settings]
    for noun, rows in (("row", diff.rows), ("read row", diff.read_rows)):
        for row in rows:
            name = f"{noun} {row.target}"
            if row.kind == "changed":
                lines += [Change(f"{name}: {c.field}", c.old, c.new) for c in row.changes]
            else:
                lines.append(Change(name, None, None, note=row.kind))
    return lines


def _published_versions(limit: int) -> list[ConfigChange]:
    versions = MappingVersion.objects.exclude(status=MappingVersion.Status.DRAFT)
    versions = versions.select_related("mapping_set", "author").order_by("-published_at")[:limit]
    return [_version_change(version) for version in versions]


def _version_change(version: MappingVersion) -> ConfigChange:
    previous = version.previous()
    diff = config_diff.diff_documents(previous.document if previous else None, version.document)
    note = f" ({version.note})" if version.note else ""
    return ConfigChange(
        when=version.published_at or version.created_at,
        who=str(version.author) if version.author else NO_USER,
        kind="Published",
        model="mapping version",
        target=f"{version.mapping_set} v{version.number}{note}",
        changes=_version_changes(diff) if previous else [],
        record=version,
        link=reverse(
            "admin:mappings_mappingset_version", args=[version.mapping_set_id, version.number]
        ),
    )


def version_recorded(delivery: Delivery) -> bool:
    """Whether the version that mapped ``delivery`` has a page (older ones were not kept)."""
    if delivery.mapping_version is None:
        return False
    versions = MappingVersion.objects.exclude(status=MappingVersion.Status.DRAFT)
    return versions.filter(
        mapping_set_id=delivery.mapping_set_id, number=delivery.mapping_version
    ).exists()
