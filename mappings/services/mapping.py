"""The mapping engine: conversation JSON in, a Braze /users/track body and problems out.

Pure functions over plain data: no ORM, no I/O, so it is fast and testable with dicts. The
models turn their rows into a ``MappingSpec`` (``MappingSet.to_spec``) before calling it.
"""

import re
from dataclasses import dataclass, field
from typing import Any

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()
# Braze refuses a longer external_id; refusing it here also keeps it storable in the audit log.
MAX_EXTERNAL_ID_BYTES = 987


@dataclass(frozen=True)
class RowSpec:
    source_path: str
    target: str
    required: bool = False


@dataclass(frozen=True)
class MappingSpec:
    identifier_path: str
    rows: tuple[RowSpec, ...]
    partner: str | None = None


@dataclass(frozen=True)
class Problem:
    source_path: str
    target: str
    reason: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return {
            "source_path": self.source_path,
            "target": self.target,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass
class MappingResult:
    payload: dict[str, Any]
    external_id: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _path_segments(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _SEGMENT.findall(path)]


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path (``user.email``, ``answers[0].value``) or ``_MISSING``."""
    current = document
    for segment in _path_segments(path):
        if isinstance(segment, int):
            if not isinstance(current, list) or segment >= len(current):
                return _MISSING
        elif not isinstance(current, dict) or segment not in current:
            return _MISSING
        current = current[segment]
    return current


def _is_empty(value: Any) -> bool:
    return value is _MISSING or value is None or value == ""


def _identifier(spec: MappingSpec, conversation: Any, problems: list[Problem]) -> str | None:
    value = lookup(conversation, spec.identifier_path)
    if _is_empty(value):
        problems.append(
            Problem(spec.identifier_path, "external_id", "user identifier is missing", "missing")
        )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(
            Problem(spec.identifier_path, "external_id", "must be a string or integer", "invalid")
        )
        return None
    if len(str(value).encode("utf-8", "surrogatepass")) > MAX_EXTERNAL_ID_BYTES:
        problems.append(
            Problem(
                spec.identifier_path, "external_id",
                f"longer than Braze's {MAX_EXTERNAL_ID_BYTES} bytes", "invalid",
            )
        )  # fmt: skip
        return None
    return str(value)


def build_payload(spec: MappingSpec, conversation: Any) -> MappingResult:
    """Apply ``spec`` to one conversation. Missing required fields become problems.

    Missing optional fields are left out rather than sent as null: null deletes the
    attribute in Braze.
    """
    problems: list[Problem] = []
    external_id = _identifier(spec, conversation, problems)
    attributes: dict[str, Any] = {"external_id": external_id}
    for row in spec.rows:
        value = lookup(conversation, row.source_path)
        if _is_empty(value):
            if row.required:
                problems.append(
                    Problem(row.source_path, row.target, "required field is missing", "missing")
                )
            continue
        attributes[row.target] = value
    payload: dict[str, Any] = {"attributes": [attributes]}
    if spec.partner:
        payload["partner"] = spec.partner
    return MappingResult(payload=payload, external_id=external_id, problems=problems)
