"""Field discovery: the source paths (and JSON types, never values) seen per mapping set.

:func:`paths_of` is pure: a conversation in, ``{path: {type, ...}}`` out, in the JMESPath form
rows use (``session.answers[2].value``, ``user."first-name"``). :func:`record` keeps them in
``SeenPath`` rows; it reads and writes them only when a conversation holds a path, or a type at a
path, that this process has not yet seen stored (most conversations of a bot share one shape).
"""

import functools
import itertools
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction

from mappings.engine import sources
from mappings.models import MappingSet, SeenPath

MAX_PATHS = 300  # per conversation: a runaway document must not flood the table
MAX_DEPTH = 10
MAX_LIST_ITEMS = 5  # list items recorded by index: answers[0] .. answers[4]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Per process: {(mapping set id, created_at): {path: types known to be stored}}. Rows only grow
# (types are only added; rows go only with their mapping set, and created_at tells a reused id
# apart), so a path whose types are all known here needs no query. Bounded, to stay small.
MAX_CACHED_SETS = 200
MAX_CACHED_PATHS = 5_000  # per mapping set
_stored: dict[tuple[int, Any], dict[str, frozenset[str]]] = {}
_stored_lock = threading.Lock()


# Exact types of what json.loads returns (the common case, one lookup); others below.
_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    known = _JSON_TYPES.get(type(value))
    if known is not None:
        return known
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@functools.lru_cache(maxsize=4096)  # a bot's conversations repeat the same few keys
def _jmespath_key(key: str) -> str:
    if _PLAIN_KEY.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) for every path in ``document``, breadth first (a deque: popping the head of
    a list is linear), so a caller that stops at a bound keeps the shallow ones."""
    pending: deque[tuple[str, Any, int]] = deque([("", document, 0)])
    while pending:
        prefix, value, depth = pending.popleft()
        if prefix:
            yield prefix, value
        if depth >= MAX_DEPTH:
            continue
        if isinstance(value, dict):
            dot = prefix + "." if prefix else ""
            for key, item in value.items():
                pending.append((dot + _jmespath_key(str(key)), item, depth + 1))
        elif isinstance(value, list) and prefix:
            for index, item in enumerate(value[:MAX_LIST_ITEMS]):
                pending.append((f"{prefix}[{index}]", item, depth + 1))


def paths_of(document: Any) -> dict[str, set[str]]:
    """Every path in ``document`` (bounded), with the JSON types found there."""
    found: dict[str, set[str]] = {}
    for path, value in _walk(document):
        types = found.get(path)
        if types is None:
            if len(found) >= MAX_PATHS:
                break
            found[path] = {json_type(value)}
        else:
            types.add(json_type(value))
    return found


def examples_of(document: Any) -> dict[str, Any]:
    """The first text, number or boolean found at each path of ``document`` (bounded)."""
    found: dict[str, Any] = {}
    for path, value in itertools.islice(_walk(document), MAX_PATHS * 4):
        if path not in found and isinstance(value, str | int | float | bool):
            found[path] = value
    return found


def record(mapping_set: MappingSet, conversation: Any) -> None:
    if _fits_known_shape(mapping_set, conversation):
        return
    found = paths_of(conversation)
    if not found:
        return
    if _all_stored(mapping_set, found):
        if len(found) < MAX_PATHS:  # every path of it was counted, none cut off by the bound
            _learn_shape(mapping_set, conversation)
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
    # Only rows read back are remembered: a row this call inserted may have lost a race to
    # another request's insert (ignore_conflicts), with other types. Remembered once committed,
    # so a rolled-back write is never taken as stored.
    stored = {path: frozenset(seen.types) for path, seen in known.items()}
    transaction.on_commit(lambda: _remember(mapping_set, stored))


def _cache_key(mapping_set: MappingSet) -> tuple[int, Any]:
    return (mapping_set.pk, mapping_set.created_at)


def _all_stored(mapping_set: MappingSet, found: dict[str, set[str]]) -> bool:
    stored = _stored.get(_cache_key(mapping_set))
    if not stored:
        return False
    return all(types <= stored.get(path, frozenset()) for path, types in found.items())


def _remember(mapping_set: MappingSet, paths: dict[str, frozenset[str]]) -> None:
    if not paths:
        return
    key = _cache_key(mapping_set)
    with _stored_lock:
        if key not in _stored and len(_stored) >= MAX_CACHED_SETS:
            _stored.clear()
        stored = _stored.setdefault(key, {})
        for path, types in paths.items():
            if path in stored or len(stored) < MAX_CACHED_PATHS:
                stored[path] = stored.get(path, frozenset()) | types


def forget_stored() -> None:
    """Empty this process's memory of stored paths (tests; rows deleted by hand)."""
    with _stored_lock:
        _stored.clear()
        _shapes.clear()


# -- known shapes: the common case without building a path string ---------------------------------
#
# Per process, beside _stored: a tree of the keys, list positions and JSON types of the
# conversations whose every path was found stored. A conversation that fits the tree has no
# path or type that is not stored, so record() is done without paths_of (a string and a set per
# value) or _all_stored. The tree mirrors paths_of: the same depth bound and list items, raw
# keys (paths_of's quoting is one-to-one). It only learns from conversations paths_of walked
# in full, and a node is added whole (its types set first), so a reader in another thread sees
# a node either complete or not at all; a miss only means the slower check.


class _Shape:
    __slots__ = ("items", "keys", "types")

    def __init__(self, types: frozenset[str] | set[str] = frozenset()) -> None:
        self.types = set(types)
        self.keys: dict[str, _Shape] = {}
        self.items: dict[int, _Shape] = {}


_shapes: dict[tuple[int, Any], tuple[_Shape, list[int]]] = {}  # (root, [node count])


def _fits_known_shape(mapping_set: MappingSet, conversation: Any) -> bool:
    known = _shapes.get(_cache_key(mapping_set))
    return known is not None and _fits(known[0], conversation, 0)


def _children_to_walk(node: _Shape, value: Any, depth: int) -> tuple[dict, Iterable] | None:
    """Where ``value``'s children go in the tree and the (key or index, child) pairs that
    paths_of walks; None where paths_of stops (a scalar, a top-level list, the depth bound)."""
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return node.keys, value.items()
    if isinstance(value, list) and depth:
        return node.items, enumerate(value[:MAX_LIST_ITEMS])
    return None


def _fits(node: _Shape, value: Any, depth: int) -> bool:
    walk = _children_to_walk(node, value, depth)
    if walk is None:
        return True
    children, pairs = walk
    for key, item in pairs:
        child = children.get(key)
        if child is None or json_type(item) not in child.types:
            return False
        if not _fits(child, item, depth + 1):
            return False
    return True


def _learn_shape(mapping_set: MappingSet, conversation: Any) -> None:
    key = _cache_key(mapping_set)
    with _stored_lock:
        if key not in _shapes and len(_shapes) >= MAX_CACHED_SETS:
            _shapes.clear()
        root, count = _shapes.setdefault(key, (_Shape(), [0]))
        _add_to_shape(root, conversation, 0, count)


def _add_to_shape(node: _Shape, value: Any, depth: int, count: list[int]) -> None:
    walk = _children_to_walk(node, value, depth)
    if walk is None:
        return
    children, pairs = walk
    for key, item in pairs:
        child = children.get(key)
        if child is None:
            if count[0] >= MAX_CACHED_PATHS:
                continue  # full: this part stays on the slower check
            child = _Shape({json_type(item)})
            children[key] = child
            count[0] += 1
        else:
            child.types.add(json_type(item))
        _add_to_shape(child, item, depth + 1, count)


def mapped_paths(mapping_set: MappingSet) -> set[str]:
    paths = set(sources.source_paths("path", mapping_set.identifier_source_path))
    for row in mapping_set.rows.all():
        paths.update(sources.source_paths(row.source_type, row.source_path))
    return paths


def unmapped(mapping_set: MappingSet) -> list[SeenPath]:
    """Seen leaf paths no row reads (neither the path nor a parent or child of it)."""
    mapped = mapped_paths(mapping_set)
    # Every "."-parent of a read path: a seen path among them has a child that a row reads.
    parents = {used[:end] for used in mapped for end, char in enumerate(used) if char == "."}
    return [
        seen
        for seen in mapping_set.seen_paths.only("mapping_set_id", "path", "types")
        if not {"object", "array"} >= set(seen.types) and not _is_mapped(seen.path, mapped, parents)
    ]


def _is_mapped(path: str, mapped: set[str], parents: set[str]) -> bool:
    """Whether a row reads this path, a parent of it or a child of it (set look-ups, not a scan
    of every row: the page lists hundreds of paths against a hundred rows)."""
    if path in mapped or path in parents:
        return True
    cuts = (end for end, char in enumerate(path) if char in ".[")
    return any(path[:end] in mapped for end in cuts)
