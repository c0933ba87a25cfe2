""" "Preview changes": the unsaved form's mapping against a conversation, beside the live one.

Nothing is saved or sent. For the picked (or pasted) conversation: each row's way through the
edited mapping (source -> value -> transforms -> Braze field -> problem) and each Braze field as
the published and the edited mapping send it; for the last N received conversations, which
fields would change. The mapping's own changes (settings, rows) come from ``config_diff``.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from mappings.engine import mapping, preview
from mappings.management import config_diff, config_io
from mappings.models import Delivery, MappingSet
from mappings.models.audit import DeliveryStatus

RECENT_SAMPLES = 10
MAX_REPLAY = 200
DEFAULT_REPLAY = 20


def recent_deliveries(mapping_set: MappingSet) -> list[Delivery]:
    return list(mapping_set.deliveries.order_by("-created_at", "-id")[:RECENT_SAMPLES])


def default_sample(recent: list[Delivery]) -> Delivery | None:
    """The newest conversation the live mapping accepted: a rejected one rarely shows much."""
    accepted = [delivery for delivery in recent if delivery.status != DeliveryStatus.REJECTED]
    return (accepted or recent or [None])[0]


def page_samples(mapping_set: MappingSet, asked: str | None) -> dict[str, Any]:
    """The change page's conversation choices: the recent ones, and which is picked.

    ``asked`` (the page's ``?delivery=<id>``, from a delivery page's "Fix the mapping for this")
    is picked even when older than the recent ones, and the page previews it at once.
    """
    recent = recent_deliveries(mapping_set)
    picked = _picked(mapping_set, asked)
    if picked is not None and picked not in recent:
        recent.insert(0, picked)
    return {
        "recent_deliveries": recent,
        "default_sample": picked or default_sample(recent),
        "preview_on_load": picked is not None,
    }


def _sample(mapping_set: MappingSet, data) -> tuple[Any, str, str | None]:
    """(conversation, where it came from, error)."""
    pasted = (data.get("preview_conversation") or "").strip()
    if pasted:
        try:
            conversation = json.loads(pasted)
        except ValueError as error:
            return None, "pasted", f"The pasted conversation is not valid JSON: {error}"
        if not isinstance(conversation, dict):
            return None, "pasted", "The pasted conversation must be a JSON object"
        return conversation, "the pasted conversation", None
    picked = _picked(mapping_set, data.get("preview_delivery"))
    picked = picked or default_sample(recent_deliveries(mapping_set))
    if picked is None:
        return None, "", "No conversation received yet: paste one to preview with."
    label = f"delivery {picked.pk} ({picked.status}, {picked.created_at:%Y-%m-%d %H:%M:%S})"
    return picked.received_payload, label, None


def _picked(mapping_set: MappingSet, pk: str | None) -> Delivery | None:
    try:
        return mapping_set.deliveries.filter(pk=uuid.UUID(pk)).first() if pk else None
    except ValueError:
        return None  # not a delivery id: fall back to the default sample


def replay_count(value: Any) -> int:
    try:
        return max(1, min(MAX_REPLAY, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_REPLAY


def _replay(mapping_set, published, edited, count: int, now: datetime) -> list[dict[str, Any]]:
    replayed = []
    for delivery in mapping_set.deliveries.order_by("-created_at", "-id")[:count]:
        _, outcomes = preview.compare(published, edited, delivery.received_payload, now)
        changed = [outcome for outcome in outcomes if outcome.change != "same"]
        replayed.append({"delivery": delivery, "changed": changed})
    return replayed


def changes(mapping_set: MappingSet, document: dict[str, Any], data) -> dict[str, Any]:
    """Everything the preview shows; ``problems`` alone when the document does not compile."""
    spec, problems = config_io.spec_from_document(document, "mapping")
    if problems:
        return {"problems": [str(problem) for problem in problems]}
    live_document = config_io.mapping_set_document(mapping_set)
    context: dict[str, Any] = {"mapping_diff": config_diff.diff_documents(live_document, document)}
    published, edited = mapping.compiled_for(mapping_set), mapping.compile_mapping(spec)
    now = datetime.now(UTC)  # one clock for both, so default event times do not differ
    conversation, context["sample_label"], error = _sample(mapping_set, data)
    if error:
        context["sample_error"] = error
    else:
        result, outcomes = preview.compare(published, edited, conversation, now)
        context.update(
            would_send=result.ok,
            sample_problems=[problem.as_dict() for problem in result.problems],
            trace=mapping.trace(edited, conversation),
            outcomes=outcomes,
            changed_fields=sum(outcome.change != "same" for outcome in outcomes),
        )
    count = replay_count(data.get("preview_count"))
    context["replayed"] = _replay(mapping_set, published, edited, count, now)
    return context
