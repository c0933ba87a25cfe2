"""Where a row's value comes from: a JMESPath path, a constant, or a template.

Paths are JMESPath (https://jmespath.org), parsed by the ``jmespath`` library once per mapping
version. A plain path (keys and list indexes only, like ``session.answers[2].value``, by far the
common case) is then run by a small getter built from the library's parse tree, with the same
semantics as JMESPath (a key of a non-object, or an index past the end, is null) at a fraction of
the interpreter's cost; any other expression (projections, filters, ``{lat: a, lon: b}``) runs in
the library itself.

Templates join paths into text: ``"{user.first_name} {user.last_name}"`` (``{{`` and ``}}`` are
literal braces). Placeholders that are missing count as empty text; a template whose
placeholders are all empty is empty.
"""

import re
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

SOURCE_TYPES = ("path", "constant", "template")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")

Reader = Callable[[Any], Any]


class SourceError(ValueError):
    """The source text cannot be used; the message says why."""


def compile_source(source_type: str, text: str) -> Reader:
    """A function reading this source's value from a conversation (None when missing)."""
    if source_type == "path":
        return compile_path(text)
    if source_type == "constant":
        return lambda conversation: text
    if source_type == "template":
        return _compile_template(text)
    raise SourceError(f"unknown source type {source_type!r}; use one of {', '.join(SOURCE_TYPES)}")


def compile_path(text: str) -> Reader:
    if not isinstance(text, str) or not text.strip():
        raise SourceError("the path is empty")
    try:
        expression = jmespath.compile(text.strip())
    except JMESPathError as error:
        message = str(error).splitlines()[0]
        hint = ' (quote keys with dashes or spaces: user."first-name")' if "-" in text else ""
        raise SourceError(f"not a valid JMESPath path: {message}{hint}") from error
    steps = _plain_steps(expression.parsed)
    return _getter(tuple(steps)) if steps is not None else expression.search


def source_paths(source_type: str, text: str) -> list[str]:
    """The paths a source reads (for field discovery's mapped/unmapped view)."""
    if source_type == "path":
        return [text.strip()]
    if source_type == "template":
        return [match[1].strip() for match in _PLACEHOLDER.finditer(text) if match[1]]
    return []


def _plain_steps(node: dict) -> list[tuple[bool, Any]] | None:
    """Keys and indexes as ``(is_index, key)``, or None when the expression is not that plain."""
    kind = node["type"]
    if kind == "field":
        return [(False, node["value"])]
    if kind == "index":
        return [(True, node["value"])]
    if kind in ("subexpression", "index_expression"):
        steps: list[tuple[bool, Any]] = []
        for child in node["children"]:
            child_steps = _plain_steps(child)
            if child_steps is None:
                return None
            steps.extend(child_steps)
        return steps
    return None


def _getter(steps: tuple[tuple[bool, Any], ...]) -> Reader:
    if not any(is_index for is_index, _ in steps):
        return _keys_getter(tuple(key for _, key in steps))

    def read(document: Any) -> Any:
        value = document
        for is_index, key in steps:
            if is_index:
                if type(value) is not list:
                    return None
                try:
                    value = value[key]
                except IndexError:
                    return None
            elif type(value) is dict:
                value = value.get(key)
            else:
                return None
        return value

    return read


def _keys_getter(keys: tuple[str, ...]) -> Reader:
    """Keys only: a key of anything but an object fails with KeyError or TypeError -> None."""
    if len(keys) == 1:
        (first,) = keys
        return lambda document: document.get(first) if type(document) is dict else None

    def read(document: Any) -> Any:
        if type(document) is not dict:
            return None
        value = document
        try:
            for key in keys:
                value = value[key]
        except (KeyError, TypeError):
            return None
        return value

    return read


def _compile_template(text: str) -> Reader:
    parts: list[str | Reader] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        if match[0] in ("{{", "}}"):
            parts.append(match[0][0])
        else:
            parts.append(compile_path(match[1]))
        position = match.end()
    parts.append(text[position:])
    if not any(callable(part) for part in parts):
        raise SourceError("the template has no {path} placeholder; use a constant instead")
    return _render(tuple(parts))


def _render(parts: tuple[str | Reader, ...]) -> Reader:
    def read(document: Any) -> str | None:
        pieces, found = [], False
        for part in parts:
            if callable(part):
                value = part(document)
                if value is None or value == "" or isinstance(value, dict | list):
                    continue
                found = True
                pieces.append(_text(value))
            else:
                pieces.append(part)
        return " ".join("".join(pieces).split()) if found else None

    return read


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
