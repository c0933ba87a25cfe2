"""Braze's rules for a whole ``POST /users/track`` body, as pure functions (no I/O).

The server calls :func:`parse_body`, :func:`limit_error` and :func:`validate_body`, then
:func:`answer_for` shapes the reply. Each object is checked by the rules of its array
(:mod:`.attribute_rules`, :mod:`.event_rules`); a rejected object gets one error, its first
problem, as Braze reports one per object. See docs/braze.md for the API these rules follow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .attribute_rules import attributes_error
from .event_rules import events_error, purchases_error

ARRAYS = ("attributes", "events", "purchases")
MAX_OBJECTS = 75
LIMIT_MODES = ("total", "per_array")

PARSE_ERROR = "Error while parsing request body. Please check your syntax."
TOO_MANY_OBJECTS = "Max Input Length Exceeded"
NO_VALID_DATA = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."
# Braze's text for an external_id it refuses (for example a "dummy user" id).
BLOCKED_EXTERNAL_ID = "provided external_id is blacklisted and disallowed"

OBJECT_RULES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "attributes": attributes_error,
    "events": events_error,
    "purchases": purchases_error,
}


class BodyError(ValueError):
    """The body cannot be used at all (a fatal 400)."""


@dataclass(frozen=True)
class TrackResult:
    """How many objects each sent array held, and one error per rejected object."""

    sent: dict[str, int]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def processed(self) -> dict[str, int]:
        """Accepted objects per sent array (Braze's ``*_processed`` counts)."""
        counts = dict(self.sent)
        for error in self.errors:
            counts[error["input_array"]] -= 1
        return counts


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``; NaN/Infinity are not JSON, so they fail like any bad syntax."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_non_json_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise BodyError(PARSE_ERROR) from error
    if not isinstance(body, dict):
        raise BodyError(PARSE_ERROR)
    return body


def _refuse_non_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def sent_arrays(body: dict[str, Any]) -> dict[str, list[Any]]:
    """The arrays present in the body; a present non-list is a fatal error."""
    arrays = {kind: body[kind] for kind in ARRAYS if kind in body}
    if not arrays or not all(isinstance(items, list) for items in arrays.values()):
        raise BodyError(NO_VALID_DATA)
    return arrays


def limit_error(body: dict[str, Any], max_objects: int, limit_mode: str = "total") -> str | None:
    """Braze's per-request object limit: in total (newer contracts) or per array (older)."""
    sizes = [len(items) for items in sent_arrays(body).values()]
    too_many = sum(sizes) > max_objects if limit_mode == "total" else max(sizes) > max_objects
    return TOO_MANY_OBJECTS if too_many else None


def object_error(kind: str, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"Each item in '{kind}' must be an object"
    return OBJECT_RULES[kind](obj)


def validate_body(body: dict[str, Any]) -> TrackResult:
    arrays = sent_arrays(body)
    errors = [
        error_entry(problem, kind, index)
        for kind, items in arrays.items()
        for index, obj in enumerate(items)
        if (problem := object_error(kind, obj))
    ]
    return TrackResult({kind: len(items) for kind, items in arrays.items()}, errors)


def error_entry(problem: str, kind: str, index: int) -> dict[str, Any]:
    return {"type": problem, "input_array": kind, "index": index}


def reject(
    result: TrackResult, indexes: dict[str, list[int]], problem: str = BLOCKED_EXTERNAL_ID
) -> TrackResult:
    """Also reject the objects at ``indexes`` (sent, not yet rejected), as a scripted fault."""
    errors = list(result.errors)
    rejected = {(error["input_array"], error["index"]) for error in errors}
    for kind, wanted in indexes.items():
        for index in sorted(set(wanted)):
            if 0 <= index < result.sent.get(kind, 0) and (kind, index) not in rejected:
                errors.append(error_entry(problem, kind, index))
    errors.sort(key=lambda error: (ARRAYS.index(error["input_array"]), error["index"]))
    return TrackResult(result.sent, errors)


def answer_for(result: TrackResult) -> tuple[int, dict[str, Any]]:
    """201 with counts (and errors, if any), or 400 when nothing at all was valid."""
    processed = result.processed
    if not any(processed.values()):
        return 400, {"message": NO_VALID_DATA, "errors": result.errors}
    answer: dict[str, Any] = {"message": "success"}
    answer.update({f"{kind}_processed": n for kind, n in processed.items()})
    if result.errors:
        answer["errors"] = result.errors
    return 201, answer
