"""The mapping engine: conversation JSON in, a Braze /users/track body and problems out.

Pure functions over plain data: no ORM, no I/O, so it is fast and testable with dicts. The models
turn their rows into a ``MappingSpec`` (``MappingSet.to_spec``); :func:`compile_mapping` checks
it completely (every problem, with its location) and prepares every path, transform and target
once; :meth:`CompiledMapping.run` then maps one conversation. :func:`cached_compile` keeps the
compiled form per mapping-set version so requests never re-parse it.

Each row: read a source (``sources``), run its transforms in order (``transforms``), check the
result against Braze's rules for its target (``targets``). A value that cannot be used becomes a
``Problem`` (which row, which source, what value, why); it is never sent as null, since null
deletes the attribute at Braze. The mapping set's policy decides what a problem does: ``reject``
the whole record, or ``drop_field`` (send the rest; the problems are logged with the delivery).
A missing required field or an unusable user identifier always rejects.
"""

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from jmespath.exceptions import JMESPathError

from mappings.engine import sources, targets, transforms
from mappings.engine import spec as spec_rules
from mappings.engine.sources import SourceError
from mappings.engine.spec import (
    IDENTIFIER_TYPES,
    POLICIES,
    InvalidMapping,
    MappingSpec,
    RowSpec,
    SpecProblem,
)
from mappings.engine.targets import Target, TargetError
from mappings.engine.transforms import EMPTY, Step, TransformError

SENSITIVE_MASK = "••••"
_SHOWN_VALUE_CHARS = 100


@dataclass(frozen=True)
class Problem:
    source_path: str
    target: str
    reason: str
    code: str  # missing, invalid or incomplete
    row: str = ""
    value: Any = None  # what was found (masked for sensitive rows), for the admin to see
    blocking: bool = True  # False: the field was dropped and the rest sent

    def as_dict(self) -> dict[str, Any]:
        shown = {
            "row": self.row,
            "source_path": self.source_path,
            "target": self.target,
            "code": self.code,
            "reason": self.reason,
        }
        if self.value is not None:
            shown["value"] = self.value
        return shown


@dataclass
class MappingResult:
    payload: dict[str, Any]
    external_id: str | None
    problems: list[Problem] = field(default_factory=list)
    rejected: bool | None = None  # None: rejected when there is any problem

    @property
    def ok(self) -> bool:
        """True when the payload should be sent (possibly with dropped fields)."""
        return not self.problems if self.rejected is None else not self.rejected

    @property
    def missing(self) -> list[str]:
        return [problem.source_path for problem in self.problems if problem.code == "missing"]


# -- compiling ----------------------------------------------------------------------------------


_NOT_FOLDED = object()


@dataclass(frozen=True)
class _Row:
    spec: RowSpec
    label: str
    read: Callable[[Any], Any]
    steps: tuple[Step, ...]
    target: Target
    check: Callable[[Any], Any]
    blocking: bool
    constant: Any = _NOT_FOLDED  # a constant row's final value, worked out once
    pipeline: tuple = ()  # (apply, handles_empty) per step: the hot loop's view of ``steps``
    attribute: str | None = None  # the attribute name, for rows that set one
    reads_document: bool = False  # a step reads another path of the conversation

    def __post_init__(self) -> None:
        object.__setattr__(self, "pipeline", tuple((s.apply, s.handles_empty) for s in self.steps))
        object.__setattr__(self, "reads_document", any(s.reads_document for s in self.steps))
        if self.target.kind == "attribute":
            object.__setattr__(self, "attribute", self.target.name)

    def pipeline_for(self, conversation: Any) -> tuple:
        """The pipeline with each document-reading step given this conversation."""
        return tuple(
            (partial(step.apply, conversation=conversation), step.handles_empty)
            if step.reads_document
            else (step.apply, step.handles_empty)
            for step in self.steps
        )


def _folded(row: _Row) -> _Row:
    """A constant row whose value is usable is computed now rather than on every record."""
    if row.spec.source_type != "constant" or row.reads_document:
        return row
    problems: list[Problem] = []
    value = _row_value(row, None, problems)
    if problems or value is EMPTY:
        return row  # keep reporting its problem at run time, where the admin sees it
    return replace(row, constant=value)


def _compile_steps(
    configs: tuple[Any, ...], where: str, errors: list[SpecProblem], target: Target | None
) -> tuple:
    problems = spec_rules.transform_problems(configs, where)
    errors.extend(problems)
    if problems:
        return ()
    target_type = targets.value_type(target) if target is not None else "auto"
    return tuple(transforms.build(config, target_type) for config in configs)


def _compile_row(
    spec: MappingSpec, index: int, row: RowSpec, errors: list[SpecProblem]
) -> _Row | None:
    where = f"rows[{index}]"
    before = len(errors)
    read = target = None
    try:
        read = sources.compile_source(row.source_type, row.source_path)
    except SourceError as error:
        errors.append(SpecProblem(f"{where}.source", str(error)))
    try:
        target = targets.parse_target(row.target, row.operation)
    except TargetError as error:
        errors.append(SpecProblem(f"{where}.target", str(error)))
    if target is not None and target.kind == "attribute" and target.name == spec.identifier_type:
        errors.append(SpecProblem(f"{where}.target", f"'{target.name}' is the user identifier"))
    steps = _compile_steps(row.transforms, f"{where}.transforms", errors, target)
    if len(errors) > before or read is None or target is None:
        return None
    blocking = row.required or spec.on_problem == "reject"
    check = targets.checker(target, spec.max_array_length)
    label = row.label or f"row {index + 1}"
    return _folded(_Row(row, label, read, steps, target, check, blocking))


def _compile_identifier(spec: MappingSpec, errors: list[SpecProblem]) -> _Row | None:
    if spec.identifier_type not in IDENTIFIER_TYPES:
        errors.append(SpecProblem("identifier.type", f"use one of {', '.join(IDENTIFIER_TYPES)}"))
        return None
    if spec.identifier_type == "user_alias" and not spec.alias_label:
        errors.append(SpecProblem("identifier.alias_label", "a user alias needs a label"))
    read = None
    try:
        read = sources.compile_path(spec.identifier_path)
    except SourceError as error:
        errors.append(SpecProblem("identifier.source", str(error)))
    target = Target("identifier", spec.identifier_type)
    steps = _compile_steps(spec.identifier_transforms, "identifier.transforms", errors, target)
    if read is None:
        return None
    row = RowSpec(spec.identifier_path, spec.identifier_type, required=True)
    check = targets.identifier_check(spec.identifier_type)
    return _Row(row, "identifier", read, steps, target, check, True)


def _spec_errors(spec: MappingSpec, errors: list[SpecProblem]) -> None:
    if spec.on_problem not in POLICIES:
        errors.append(SpecProblem("on_problem", f"use one of {', '.join(POLICIES)}"))
    seen: dict[str, int] = {}
    for index, row in enumerate(spec.rows):
        if row.target in seen:
            errors.append(
                SpecProblem(
                    f"rows[{index}].target",
                    f"'{row.target}' is already set by row {seen[row.target] + 1}",
                )
            )
        seen.setdefault(row.target, index)


@dataclass(frozen=True)
class CompiledMapping:
    spec: MappingSpec
    identifier: _Row
    rows: tuple[_Row, ...]

    def run(self, conversation: Any, *, now: datetime | None = None) -> MappingResult:
        return _run(self, conversation, now or datetime.now(UTC))


def validate_spec(spec: MappingSpec) -> list[SpecProblem]:
    """Every problem in ``spec``, each with its location; empty when it compiles."""
    try:
        compile_mapping(spec)
    except InvalidMapping as error:
        return error.problems
    return []


def validate_row(row: RowSpec, identifier_type: str = "external_id") -> list[SpecProblem]:
    """The problems of one row on its own (the admin's row form uses this)."""
    spec = MappingSpec("user.id", (row,), identifier_type=identifier_type)
    return [problem for problem in validate_spec(spec) if problem.location.startswith("rows[0]")]


def compile_mapping(spec: MappingSpec) -> CompiledMapping:
    """Check and prepare ``spec`` once; raises ``InvalidMapping`` listing every problem."""
    errors: list[SpecProblem] = []
    _spec_errors(spec, errors)
    identifier = _compile_identifier(spec, errors)
    rows = [_compile_row(spec, index, row, errors) for index, row in enumerate(spec.rows)]
    if errors or identifier is None:
        raise InvalidMapping(errors)
    return CompiledMapping(spec, identifier, tuple(row for row in rows if row is not None))


_CACHE: OrderedDict[Hashable, CompiledMapping] = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def cached_compile(key: Hashable, make_spec: Callable[[], MappingSpec]) -> CompiledMapping:
    """The compiled mapping for ``key`` (a mapping set's id and version), compiling on a miss."""
    with _CACHE_LOCK:
        compiled = _CACHE.get(key)
        if compiled is not None:
            _CACHE.move_to_end(key)
            return compiled
    compiled = compile_mapping(make_spec())
    with _CACHE_LOCK:
        _CACHE[key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return compiled


class CompilableMapping(Protocol):
    """What a stored mapping set offers the cache (the model does; the engine never imports it)."""

    pk: Any
    version: int
    updated_at: datetime

    def to_spec(self) -> MappingSpec: ...


def compiled_for(mapping_set: CompilableMapping) -> CompiledMapping:
    """The compiled mapping of a stored mapping set, reused until it changes.

    ``updated_at`` is in the key beside the version, so edits made outside the admin (the ORM,
    the shell) that do not bump the version are still seen; row saves touch the set.
    """
    key = (mapping_set.pk, mapping_set.version, mapping_set.updated_at)
    return cached_compile(key, mapping_set.to_spec)


def build_payload(spec: MappingSpec, conversation: Any, *, now: datetime | None = None):
    """Apply ``spec`` to one conversation (compiling it; hot paths use ``cached_compile``)."""
    return compile_mapping(spec).run(conversation, now=now)


def lookup(document: Any, path: str) -> Any:
    """The value at a JMESPath path, or None when it is missing."""
    return sources.compile_path(path)(document)


# -- running ------------------------------------------------------------------------------------


def _shown(value: Any, sensitive: bool) -> Any:
    if value is None or value is EMPTY:
        return None
    if sensitive:
        return SENSITIVE_MASK
    if isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 1] + "…"


def _problem(row: _Row, code: str, reason: str, value: Any = None, blocking=None) -> Problem:
    return Problem(
        source_path=row.spec.source_path,
        target=row.spec.target,
        reason=reason,
        code=code,
        row=row.label,
        value=_shown(value, row.spec.sensitive),
        blocking=row.blocking if blocking is None else blocking,
    )


def _row_value(row: _Row, conversation: Any, problems: list[Problem]) -> Any:
    """The row's checked value, or EMPTY (with a problem when that is wrong)."""
    if row.constant is not _NOT_FOLDED:
        return row.constant
    raw = EMPTY
    try:
        raw = row.read(conversation)
        value = EMPTY if raw is None or raw == "" else raw
        pipeline = row.pipeline_for(conversation) if row.reads_document else row.pipeline
        for apply, handles_empty in pipeline:
            if value is not EMPTY or handles_empty:
                value = apply(value)
                if value is None or value == "":
                    value = EMPTY
        if value is EMPTY:
            if row.spec.required:
                problems.append(_problem(row, "missing", "required field is missing", raw, True))
            return EMPTY
        return row.check(value)
    except (TransformError, JMESPathError) as error:
        problems.append(_problem(row, "invalid", str(error), raw))
        return EMPTY


def _identify(compiled: CompiledMapping, conversation: Any, problems: list[Problem]):
    """The identifier fields every object carries, and the id to log; ({}, None) if unusable."""
    row = compiled.identifier
    value = _row_value(row, conversation, problems)
    if value is EMPTY:
        if problems and problems[-1].code == "missing":
            problems[-1] = _problem(row, "missing", "user identifier is missing")
        return {}, None
    spec = compiled.spec
    if spec.identifier_type == "user_alias":
        alias = {"alias_name": value, "alias_label": spec.alias_label}
        return {"user_alias": alias, "_update_existing_only": False}, value
    return {spec.identifier_type: value}, value


def _run(compiled: CompiledMapping, conversation: Any, now: datetime) -> MappingResult:
    problems: list[Problem] = []
    ids, external_id = _identify(compiled, conversation, problems)
    attributes: dict[str, Any] = dict(ids)
    occurrences: dict[tuple[str, int], dict[str, Any]] = {}
    merge = False
    for row in compiled.rows:
        value = _row_value(row, conversation, problems)
        if value is EMPTY:
            continue
        if row.attribute is not None:
            attributes[row.attribute] = value
            merge = merge or row.target.operation == "merge"
            continue
        target = row.target
        slot = occurrences.setdefault((target.kind, target.index), {"_rows": []})
        slot["_rows"].append(row)
        if target.key:
            slot.setdefault("properties", {})[target.key] = value
        else:
            slot[target.name] = value
    if merge:
        attributes["_merge_objects"] = True
    payload: dict[str, Any] = {"attributes": [attributes]}
    for (kind, _index), slot in sorted(occurrences.items()):
        built = _occurrence(kind, slot, ids, now, problems)
        if built is not None:
            payload.setdefault(kind, []).append(built)
    if compiled.spec.partner:
        payload["partner"] = compiled.spec.partner
    rejected = any(problem.blocking for problem in problems)
    return MappingResult(payload, external_id, problems, rejected)


def _occurrence(
    kind: str, slot: dict[str, Any], ids: dict, now: datetime, problems: list[Problem]
) -> dict[str, Any] | None:
    """One event or purchase object, or None when it is not to be sent."""
    rows: list[_Row] = slot.pop("_rows")
    key = "name" if kind == "events" else "product_id"
    if key not in slot:
        return None  # no name (or product id) this time: nothing happened to report
    if kind == "purchases" and not {"currency", "price"} <= set(slot):
        lacking = ", ".join(sorted({"currency", "price"} - set(slot)))
        blocking = any(row.blocking for row in rows)
        problems.append(_problem(rows[0], "incomplete", f"the purchase has no {lacking}",
                                 blocking=blocking))  # fmt: skip
        return None
    properties = slot.get("properties")
    if properties and (too_big := targets.properties_size_error(properties)):
        problems.append(_problem(rows[0], "invalid", too_big))
        del slot["properties"]
    if "time" not in slot:
        slot["time"] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    order = targets.EVENT_FIELDS if kind == "events" else targets.PURCHASE_FIELDS
    return {**ids, **{name: slot[name] for name in order if name in slot}}


# -- tracing (the admin's preview table) --------------------------------------------------------


@dataclass(frozen=True)
class RowTrace:
    """One row's way through the mapping: what it read, how it was changed, where it went."""

    label: str
    source: str
    found: Any  # as read, before transforms (masked for sensitive rows)
    transforms: tuple[str, ...]  # each as a person reads it (transforms.label)
    target: str
    value: Any  # what is sent (None: nothing)
    problems: tuple[str, ...]


def trace(compiled: CompiledMapping, conversation: Any) -> list[RowTrace]:
    """The identifier and each row on their own: the same steps ``run`` takes, kept apart."""
    traced = []
    for row in (compiled.identifier, *compiled.rows):
        problems: list[Problem] = []
        try:
            found = row.read(conversation)
        except (SourceError, JMESPathError):
            found = None
        value = _row_value(row, conversation, problems)
        traced.append(
            RowTrace(
                label=row.label,
                source=row.spec.source_path,
                found=_shown(found, row.spec.sensitive),
                transforms=tuple(transforms.label(config) for config in row.spec.transforms),
                target=row.spec.target,
                value=None if value is EMPTY else _shown(value, row.spec.sensitive),
                problems=tuple(problem.reason for problem in problems),
            )
        )
    return traced
