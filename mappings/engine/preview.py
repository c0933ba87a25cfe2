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
