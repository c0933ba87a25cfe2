"""A mapping set's read rows (``LookupField``) in its config document: ``lookups.rows``.

Each read row is ``{braze_field, bot_name, transforms, sensitive}``, in position order. Rows are
matched by ``bot_name`` (unique in a set), so a kept row is updated in place and its history
shows field: old -> new. A ``lookups`` section without ``rows`` (files exported before read rows
were part of the document) leaves the set's read rows as they are; ``rows: []`` removes them.
"""

from typing import Any

from django.core.exceptions import ValidationError

from mappings.engine import spec
from mappings.models import LookupField, MappingSet

ROW_KEYS = {"braze_field", "bot_name", "transforms", "sensitive"}


def rows_document(mapping_set: MappingSet) -> list[dict[str, Any]]:
    """The set's saved read rows as the document lists them (none for an unsaved set)."""
    if mapping_set.pk is None:
        return []
    return [row_document(row) for row in mapping_set.lookup_fields.all()]


def row_document(row: LookupField) -> dict[str, Any]:
    return {
        "braze_field": row.braze_field,
        "bot_name": row.bot_name,
        "transforms": list(row.transforms or []),
        "sensitive": row.is_sensitive,
    }


# -- validation ---------------------------------------------------------------------------------


def problems(lookups: Any, where: str) -> list[tuple[str, str]]:
    """(location, message) for everything wrong with ``lookups.rows``; none when it is absent."""
    if not isinstance(lookups, dict) or "rows" not in lookups:
        return []
    rows = lookups["rows"]
    if not isinstance(rows, list):
        return [(f"{where}.rows", "must be a list")]
    found: list[tuple[str, str]] = []
    first_row: dict[str, int] = {}
    for index, row in enumerate(rows):
        location = f"{where}.rows[{index}]"
        found += _row_problems(row, location)
        name = row.get("bot_name") if isinstance(row, dict) else None
        if not isinstance(name, str) or not name:
            continue
        if name in first_row:
            said = f"'{name}' is already the name of rows[{first_row[name]}]: one read row per name"
            found.append((f"{location}.bot_name", said))
        else:
            first_row[name] = index
    return found


def _row_problems(row: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(row, dict):
        return [(where, "must be an object with braze_field and bot_name")]
    found = [(f"{where}.{key}", "unknown key") for key in row if key not in ROW_KEYS]
    for key in ("braze_field", "bot_name"):
        found += _field_problems(row.get(key), key, where)
    transforms = row.get("transforms", [])
    # The engine's own rules, as a write row's transforms are checked.
    found += [
        (f"{where}.{problem.location}", problem.message)
        for problem in spec.transform_problems(transforms, "transforms")
    ]
    if not isinstance(row.get("sensitive", False), bool):
        found.append((f"{where}.sensitive", "must be true or false"))
    return found


def _field_problems(value: Any, key: str, where: str) -> list[tuple[str, str]]:
    """Checked by the model field itself: required, its length and its validators."""
    if not isinstance(value, str) or not value:
        return [(f"{where}.{key}", "must be non-empty text")]
    try:
        LookupField._meta.get_field(key).clean(value, None)
    except ValidationError as error:
        return [(f"{where}.{key}", " ".join(error.messages))]
    return []


# -- import -------------------------------------------------------------------------------------


def write(mapping_set: MappingSet, lookups: dict[str, Any]) -> None:
    """Make the set's read rows those of a validated ``lookups`` section (absent rows: keep)."""
    if "rows" not in lookups:
        return
    rows = lookups["rows"]
    existing = {row.bot_name: row for row in mapping_set.lookup_fields.all()}
    wanted = {row["bot_name"] for row in rows}
    for row in existing.values():
        if row.bot_name not in wanted:
            row.delete()
    for position, value in enumerate(rows):
        row = existing.get(value["bot_name"]) or LookupField(mapping_set=mapping_set)
        if _apply(row, position, value):
            row.save()


def _apply(row: LookupField, position: int, value: dict[str, Any]) -> bool:
    """Put the document's values on ``row``; whether anything changed (an unchanged row is not
    saved, so its history gains no empty record)."""
    wanted = {
        "position": position,
        "braze_field": value["braze_field"],
        "bot_name": value["bot_name"],
        "transforms": value.get("transforms") or [],
        "is_sensitive": value.get("sensitive", False),
    }
    changed = row.pk is None or any(getattr(row, name) != new for name, new in wanted.items())
    for name, new in wanted.items():
        setattr(row, name, new)
    return changed
