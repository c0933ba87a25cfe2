"""What changed between two mapping-set documents (docs/config-format.md), field by field.

Plain data in, plain data out: the version page, the config-changes page and the publish
preview read it, and so can promotion and ``import_config --dry-run``. Rows are matched by their
Braze target, which is unique within a set; a row whose target changed is one removed and one
added. Read rows (``lookups.rows``) are matched by their name in the bot the same way, and listed
apart; a version recorded before read rows were in the document has no ``lookups.rows``, and
nothing is said about read rows against it (they were not recorded, so nothing is known).
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
    target: str  # what the row is matched by: a write row's Braze target, a read row's bot_name
    kind: str  # added, removed or changed
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentDiff:
    settings: list[FieldChange]
    rows: list[RowChange]
    read_rows: list[RowChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.settings or self.rows or self.read_rows)

    def summary(self) -> str:
        """One line for a changelog: "2 settings changed, 1 row added, 1 read row changed"."""
        counts = [(len(self.settings), "setting", "changed")]
        for noun, rows in (("row", self.rows), ("read row", self.read_rows)):
            for kind in ("added", "removed", "changed"):
                counts.append((sum(row.kind == kind for row in rows), noun, kind))
        parts = [f"{n} {noun}{'' if n == 1 else 's'} {verb}" for n, noun, verb in counts if n]
        return ", ".join(parts) or "no changes"


def _flat_settings(document: dict[str, Any]) -> dict[str, Any]:
    """Every key but the rows and read rows, nested objects as dotted names (identifier.source)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if key == "rows":
            continue
        if isinstance(value, dict):
            flat.update(
                {f"{key}.{inner}": item for inner, item in value.items() if inner != "rows"}
            )
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


def _read_rows_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """None when the document does not hold its read rows (recorded before they were in it)."""
    lookups = document.get("lookups")
    if not isinstance(lookups, dict) or "rows" not in lookups:
        return None
    return {row["bot_name"]: row for row in lookups["rows"]}


def _row_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[RowChange]:
    rows = [RowChange(key, "removed") for key in before if key not in after]
    for key, row in after.items():
        if key not in before:
            rows.append(RowChange(key, "added", _field_changes({}, row)))
        elif changes := _field_changes(before[key], row):
            rows.append(RowChange(key, "changed", changes))
    return rows


def diff_documents(old: dict[str, Any] | None, new: dict[str, Any]) -> DocumentDiff:
    """From ``old`` (None: nothing before) to ``new``."""
    read_before = {} if old is None else _read_rows_by_name(old)
    old = old or {}
    read_after = _read_rows_by_name(new)
    known = read_before is not None and read_after is not None
    return DocumentDiff(
        _field_changes(_flat_settings(old), _flat_settings(new)),
        _row_changes(_rows_by_target(old), _rows_by_target(new)),
        _row_changes(read_before, read_after) if known else [],
    )
