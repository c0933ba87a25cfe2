"""Read rows: which profile fields to ask Braze for, and one exported profile as the bot's names.

Pure, like the rest of the engine: a tuple of ``LookupRowSpec`` and a user object as
/users/export/ids answers it in, ``{bot_name: value}`` and a list of problems out. A row whose
value is missing from the profile is left out of the answer (the bot keeps what it had); a row
whose transform cannot use the value is left out too, with a problem saying why, and never
raises.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mappings.engine import transforms
from mappings.engine.mapping import SENSITIVE_MASK
from mappings.engine.spec import LookupRowSpec, lookup_field_problem
from mappings.engine.transforms import EMPTY, TransformError

SENSITIVE_REASON = "the value could not be used (a sensitive field: neither it nor why is shown)"


@dataclass(frozen=True)
class LookupProblem:
    row: str
    braze_field: str
    bot_name: str
    reason: str
    value: Any = None  # what Braze held (masked for sensitive rows)

    def as_dict(self) -> dict[str, Any]:
        shown = {"row": self.row, "braze_field": self.braze_field, "bot_name": self.bot_name}
        shown["reason"] = self.reason
        if self.value is not None:
            shown["value"] = self.value
        return shown


@dataclass(frozen=True)
class _ReadRow:
    spec: LookupRowSpec
    path: tuple[str, ...]
    steps: tuple[transforms.Step, ...]


@dataclass(frozen=True)
class CompiledLookup:
    rows: tuple[_ReadRow, ...]
    problems: tuple[LookupProblem, ...] = ()  # rows that could not be compiled (left out)

    @property
    def fields_to_export(self) -> tuple[str, ...]:
        """The top-level export fields the rows need, in order, once each."""
        return tuple(dict.fromkeys(row.path[0] for row in self.rows))


@dataclass
class ReadProfile:
    values: dict[str, Any]
    problems: list[LookupProblem] = field(default_factory=list)


def compile_lookup(rows: Iterable[LookupRowSpec]) -> CompiledLookup:
    """Check and prepare read rows; a row with a bad field or transform is listed, not raised."""
    compiled, problems = [], []
    for index, row in enumerate(rows):
        label = row.label or f"read row {index + 1}"
        reason = lookup_field_problem(row.braze_field) or _transform_problem(row.transforms)
        if reason:
            problems.append(LookupProblem(label, row.braze_field, row.bot_name, reason))
            continue
        steps = tuple(transforms.build(config) for config in row.transforms)
        compiled.append(_ReadRow(row, tuple(row.braze_field.split(".")), steps))
    return CompiledLookup(tuple(compiled), tuple(problems))


def _transform_problem(configs: tuple[Any, ...]) -> str | None:
    messages = [message for config in configs for message in transforms.check(config)]
    return "; ".join(messages) or None


def read_profile(compiled: CompiledLookup, user: Mapping[str, Any]) -> ReadProfile:
    """One exported user object as ``{bot_name: value}`` through each row's transforms."""
    result = ReadProfile({}, list(compiled.problems))
    for row in compiled.rows:
        raw = _dig(user, row.path)
        try:
            value = _transformed(row, raw, user)
        except TransformError as error:
            result.problems.append(_problem(row, error, raw))
            continue
        if value is not EMPTY:
            result.values[row.spec.bot_name] = value
    return result


def _problem(row: _ReadRow, error: TransformError, raw: Any) -> LookupProblem:
    # A reason may quote part of the value (a date's month name): not for a sensitive row.
    if row.spec.sensitive:
        reason, shown = SENSITIVE_REASON, SENSITIVE_MASK
    else:
        reason, shown = str(error), raw
    return LookupProblem(row.spec.label, row.spec.braze_field, row.spec.bot_name, reason, shown)


def _dig(user: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = user
    for key in path:
        if not isinstance(value, Mapping):
            return EMPTY
        value = value.get(key, EMPTY)
    return EMPTY if value is None or value == "" else value


def _transformed(row: _ReadRow, raw: Any, user: Mapping[str, Any]) -> Any:
    value = raw
    for step in row.steps:
        if value is EMPTY and not step.handles_empty:
            continue
        value = step.apply(value, user) if step.reads_document else step.apply(value)
        if value is None or value == "":
            value = EMPTY
    return value


def sensitive_names(compiled: CompiledLookup) -> frozenset[str]:
    """The bot names whose values our log must never show."""
    return frozenset(row.spec.bot_name for row in compiled.rows if row.spec.sensitive)


# What a lookup answers, for a flow to branch on: found (fields hold the values), not_found
# (Braze knows no such user), unknown (we could not tell in time: see the outcome).
LOOKUP_STATUSES = ("found", "not_found", "unknown")


@dataclass(frozen=True)
class LookupAnswer:
    """One lookup's answer as the routes and platform adapters shape it."""

    status: str  # one of LOOKUP_STATUSES
    outcome: str  # how: hit, miss, not_found, braze_slow, braze_refused, rate_limited_...
    source: str | None  # "cache" or "braze"; None when nothing was read
    fields: Mapping[str, Any] = field(default_factory=dict)  # {bot_name: value}
    message: str = ""  # why, in words, for an unknown

    def __post_init__(self) -> None:
        if self.status not in LOOKUP_STATUSES:
            raise ValueError(f"unknown lookup status {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        """The generic route's body."""
        body = {"success": self.status != "unknown", "status": self.status}
        body |= {"outcome": self.outcome, "source": self.source, "fields": dict(self.fields)}
        if self.message:
            body["message"] = self.message
        return body
