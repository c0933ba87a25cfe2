"""Field discovery: the source paths (and JSON types, never values) seen per mapping set.

:func:`paths_of` is pure: a conversation in, ``{path: {type, ...}}`` out, in the JMESPath form
rows use (``session.answers[2].value``, ``user."first-name"``). :func:`record` keeps them in
``SeenPath`` rows with one read per ingest and writes only when something is new.
"""

import re
from typing import Any

from mappings.models import MappingSet, SeenPath
from mappings.services import sources

MAX_PATHS = 300  # per conversation: a runaway document must not flood the table
MAX_DEPTH = 10
MAX_LIST_ITEMS = 5  # list items recorded by index: answers[0] .. answers[4]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _key(key: str) -> str:
    if _PLAIN_KEY.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def paths_of(document: Any) -> dict[str, set[str]]:
    """Every path in ``document`` (bounded), with the JSON types found there."""
    found: dict[str, set[str]] = {}
    pending: list[tuple[str, Any, int]] = [("", document, 0)]
    while pending and len(found) < MAX_PATHS:
        prefix, value, depth = pending.pop(0)
        if prefix:
            found.setdefault(prefix, set()).add(json_type(value))
        if depth >= MAX_DEPTH:
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{prefix}.{_key(str(key))}" if prefix else _key(str(key))
                pending.append((path, item, depth + 1))
        elif isinstance(value, list) and prefix:
            for index, item in enumerate(value[:MAX_LIST_ITEMS]):
                pending.append((f"{prefix}[{index}]", item, depth + 1))
    return found


def record(mapping_set: MappingSet, conversation: Any) -> None:
    found = paths_of(conversation)
    if not found:
        return
    known = {
        seen.path: seen
        for seen in SeenPath.objects.filter(mapping_set=mapping_set, path__in=list(found))
    }
    new = [
        SeenPath(mapping_set=mapping_set, path=path, types=sorted(types))
        for path, types in found.items()
        if path not in known and len(path) <= 500
    ]
    if new:
        SeenPath.objects.bulk_create(new, ignore_conflicts=True)
    for path, seen in known.items():
        if not found[path] <= set(seen.types):
            seen.types = sorted(set(seen.types) | found[path])
            seen.save(update_fields=["types", "last_seen_at"])


def mapped_paths(mapping_set: MappingSet) -> set[str]:
    paths = set(sources.source_paths("path", mapping_set.identifier_source_path))
    for row in mapping_set.rows.all():
        paths.update(sources.source_paths(row.source_type, row.source_path))
    return paths


def unmapped(mapping_set: MappingSet) -> list[SeenPath]:
    """Seen leaf paths no row reads (neither the path nor a parent or child of it)."""
    mapped = mapped_paths(mapping_set)
    return [
        seen
        for seen in mapping_set.seen_paths.all()
        if not {"object", "array"} >= set(seen.types) and not _covered(seen.path, mapped)
    ]


def _covered(path: str, mapped: set[str]) -> bool:
    return any(
        path == used or path.startswith((used + ".", used + "[")) or used.startswith(path + ".")
        for used in mapped
    )
