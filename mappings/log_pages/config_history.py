"""Who changed what: recent configuration changes across the history tables, with diffs."""

from dataclasses import dataclass
from datetime import datetime

from mappings.models import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet

TRACKED = [Environment, BrazeCredential, MappingSet, FieldMapping, ApiClient]


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class ConfigChange:
    when: datetime
    who: str
    kind: str  # "Created", "Changed", "Deleted"
    model: str
    target: str
    changes: list[Change]
    record: object


def _changes(record) -> list[Change]:
    previous = record.prev_record
    if previous is None:
        return []
    delta = record.diff_against(previous)
    return [Change(c.field, c.old, c.new) for c in delta.changes]


def _as_change(record) -> ConfigChange:
    return ConfigChange(
        when=record.history_date,
        who=str(record.history_user) if record.history_user else "(no user: shell or import)",
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
    records.sort(key=lambda record: record.history_date, reverse=True)
    return [_as_change(record) for record in records[:limit]]
