"""What changed between two mapping-set documents (docs/config-format.md), field by field.

Plain data in, plain data out: the version page, the config-changes page and the publish
preview read it, and so can promotion and ``import_config --dry-run``. Rows are matched by their
Braze target, which is unique within a set; a row whose target changed is one removed and one
added.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from mappings.engine import transforms


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    @property
    def old_text(self) -> str:
        return shown(self.field, self.old)

    @property
    def new_text(self) -> str:
        return shown(self.field, self.new)


def shown(name: str, value: Any) -> str:
    """A value as the diff shows it: transforms as words (``trim → phone (region: BR)``), lists
    and objects as JSON, nothing as a dash."""
    if value is None or value == []:
        return "\u2013"  # an en dash: nothing there
    if name.endswith("transforms") and isinstance(value, list):
        return " → ".join(transforms.label(step) for step in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@dataclass(frozen=True)
class RowChange:
    target: str
    kind: str  # added, removed or changed
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentDiff:
    settings: list[FieldChange]
    rows: list[RowChange]

    def __bool__(self) -> bool:
        return bool(self.settings or self.rows)

    def summary(self) -> str:
        """One line for a changelog: "2 settings changed, 1 row added"."""
        counts = [(len(self.settings), "setting", "changed")]
        for kind in ("added", "removed", "changed"):
            counts.append((sum(row.kind == kind for row in self.rows), "row", kind))
        parts = [f"{n} {noun}{'' if n == 1 else 's'} {verb}" for n, noun, verb in counts if n]
        return ", ".join(parts) or "no changes"


def _flat_settings(document: dict[str, Any]) -> dict[str, Any]:
    """Every key but the rows, nested objects as dotted names (identifier.source)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if key == "rows":
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    names = list(old) + [name for name in new if name not in old]
    return [
        FieldChange(name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]


def _rows_by_target(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["target"]: row for row in document.get("rows", [])}


def diff_documents(old: dict[str, Any] | None, new: dict[str, Any]) -> DocumentDiff:
    """From ``old`` (None: nothing before) to ``new``."""
    old = old or {}
    before, after = _rows_by_target(old), _rows_by_target(new)
    rows = [RowChange(target, "removed") for target in before if target not in after]
    for target, row in after.items():
        if target not in before:
            rows.append(RowChange(target, "added", _field_changes({}, row)))
        elif changes := _field_changes(before[target], row):
            rows.append(RowChange(target, "changed", changes))
    return DocumentDiff(_field_changes(_flat_settings(old), _flat_settings(new)), rows)
