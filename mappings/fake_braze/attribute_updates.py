"""How one accepted custom attribute value changes what a profile holds, as pure functions.

Set (arrays keep their values unique), ``{"inc": n}``, ``{"add"/"remove": [...]}`` on simple
arrays, ``{"$add"/"$remove"/"$update": [...]}`` on arrays of objects, and nested objects that
replace the stored one or, with ``_merge_objects``, are deep-merged into it. Values reach here
only after :mod:`.attribute_rules` accepted them.
"""

from __future__ import annotations

import copy
from typing import Any

from .attribute_rules import OBJECT_ARRAY_OPS, SIMPLE_ARRAY_OPS
from .value_checks import is_number

DELETE = object()  # the attribute is removed (a null value)


def updated_value(current: Any, value: Any, merge_objects: bool) -> Any:
    """What the attribute holds after ``value`` is applied to ``current`` (None: not set)."""
    if value is None:
        return DELETE
    if isinstance(value, list):
        return unique(copy.deepcopy(value))
    if not isinstance(value, dict):
        return value
    keys = set(value)
    if keys == {"inc"}:
        return (current if is_number(current) else 0) + value["inc"]
    if keys and keys <= SIMPLE_ARRAY_OPS:
        return simple_array_changed(current, value)
    if keys and keys <= OBJECT_ARRAY_OPS:
        return object_array_changed(current, value)
    if merge_objects and isinstance(current, dict):
        return deep_merged(current, value)
    return copy.deepcopy(value)


def unique(items: list[Any]) -> list[Any]:
    """First occurrences only, in order (values may be unhashable, so compared with ==)."""
    kept: list[Any] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return kept


def simple_array_changed(current: Any, change: dict[str, list[Any]]) -> list[Any]:
    items = list(current) if isinstance(current, list) else []
    items = unique(items + list(change.get("add", [])))
    removed = change.get("remove", [])
    return [item for item in items if item not in removed]


def object_array_changed(current: Any, change: dict[str, list[Any]]) -> list[Any]:
    """``$add`` appends objects; ``$remove`` and ``$update`` find objects by
    ``$identifier_key`` / ``$identifier_value``, and ``$update`` merges ``$new_object`` in."""
    items = copy.deepcopy(current) if isinstance(current, list) else []
    items.extend(copy.deepcopy(change.get("$add", [])))
    for spec in change.get("$remove", []):
        items = [item for item in items if not identified(item, spec)]
    for spec in change.get("$update", []):
        new_object = spec.get("$new_object") if isinstance(spec, dict) else None
        if isinstance(new_object, dict):
            items = [deep_merged(i, new_object) if identified(i, spec) else i for i in items]
    return items


def identified(item: Any, spec: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(spec, dict):
        return False
    key = spec.get("$identifier_key")
    return key in item and item[key] == spec.get("$identifier_value")


def deep_merged(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` merged into ``current``: objects on both sides merge key by key, any other
    value (a ``{"$time": ...}`` date included) replaces what was there."""
    merged = copy.deepcopy(current)
    for key, value in new.items():
        both_objects = isinstance(value, dict) and isinstance(merged.get(key), dict)
        if both_objects and set(value) != {"$time"}:
            merged[key] = deep_merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
