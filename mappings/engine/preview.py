"""Preview: what a mapping would send for a conversation, without sending or storing anything.

The API (``POST /api/v1/ingest/<slug>/preview/``) and the admin's preview page both call
:func:`preview`, so they show the same result for the same input.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mappings.engine.mapping import CompiledMapping, MappingResult, compile_mapping, compiled_for
from mappings.engine.spec import MappingSpec


@dataclass(frozen=True)
class Preview:
    result: MappingResult
    mapping_version: int | None  # None for an edited, unsaved mapping

    def as_dict(self) -> dict[str, Any]:
        """What the API answers and the admin page shows: the exact body, and every problem."""
        return {
            "success": True,
            "would_send": self.result.ok,
            "mapping_version": self.mapping_version,
            "payload": self.result.payload,
            "problems": [problem.as_dict() for problem in self.result.problems],
            "missing": self.result.missing,
        }


def preview(
    mapping_set, conversation: Any, *, spec: MappingSpec | None = None, now: datetime | None = None
) -> Preview:
    """Map ``conversation`` with the saved mapping set, or with ``spec`` (edited, unsaved)."""
    compiled: CompiledMapping = compile_mapping(spec) if spec else compiled_for(mapping_set)
    version = None if spec else mapping_set.version
    return Preview(compiled.run(conversation, now=now), version)


@dataclass(frozen=True)
class ReplayedChange:
    delivery_id: str
    received_at: datetime
    changed: bool
    before: dict[str, Any]
    after: dict[str, Any]


def _outcome(result: MappingResult) -> dict[str, Any]:
    return {
        "would_send": result.ok,
        "payload": result.payload,
        "problems": [problem.as_dict() for problem in result.problems],
    }


def replay_edited(
    mapping_set, spec: MappingSpec, deliveries, *, now: datetime | None = None
) -> list[ReplayedChange]:
    """Each received conversation through the saved and the edited mapping, side by side."""
    saved, edited = compiled_for(mapping_set), compile_mapping(spec)
    now = now or datetime.now(UTC)  # one clock for both, so default event times do not differ
    changes = []
    for delivery in deliveries:
        conversation = delivery.received_payload
        before = _outcome(saved.run(conversation, now=now))
        after = _outcome(edited.run(conversation, now=now))
        changes.append(
            ReplayedChange(str(delivery.pk), delivery.created_at, before != after, before, after)
        )
    return changes


@dataclass(frozen=True)
class FieldOutcome:
    """One Braze field as the published and the edited mapping would send it."""

    field: str  # attributes.email, events[0].properties.topic, outcome
    published: Any
    edited: Any

    @property
    def change(self) -> str:
        if self.published == self.edited:
            return "same"
        if self.published is None:
            return "added"
        return "removed" if self.edited is None else "changed"


def _flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, into)
    elif isinstance(value, list) and value and prefix in ("attributes", "events", "purchases"):
        single = prefix == "attributes" and len(value) == 1  # the usual one user object
        for index, item in enumerate(value):
            _flatten(item, prefix if single else f"{prefix}[{index}]", into)
    else:
        into[prefix] = value


def body_fields(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A Braze body, one entry per Braze field, plus whether it is sent at all (None: not)."""
    fields: dict[str, Any] = {"outcome": "reject" if payload is None else "send"}
    if payload is not None:
        _flatten(payload, "", fields)
    return fields


def sent_fields(result: MappingResult) -> dict[str, Any]:
    """What a result sends, one entry per Braze field, plus whether it is sent at all."""
    return body_fields(result.payload if result.ok else None)


def field_outcomes(published: MappingResult, edited: MappingResult) -> list[FieldOutcome]:
    """Every field either mapping sends, side by side, in the published mapping's order."""
    return compared_fields(sent_fields(published), sent_fields(edited))


def compared_fields(before: dict[str, Any], after: dict[str, Any]) -> list[FieldOutcome]:
    """Two bodies' fields (``body_fields``) side by side, in the first one's order; the delivery
    log's re-mapping confirmation shows a stored body against its re-mapped one this way."""
    names = list(before) + [name for name in after if name not in before]
    return [FieldOutcome(name, before.get(name), after.get(name)) for name in names]


def compare(
    published: CompiledMapping, edited: CompiledMapping, conversation: Any, now: datetime
) -> tuple[MappingResult, list[FieldOutcome]]:
    """The edited mapping's result for one conversation and how it differs field by field."""
    after = edited.run(conversation, now=now)
    return after, field_outcomes(published.run(conversation, now=now), after)
