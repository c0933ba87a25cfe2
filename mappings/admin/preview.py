"""The admin's preview page: a sample conversation and the mapping's result side by side.

The result is ``mappings.engine.preview.preview(...).as_dict()``, exactly what
``POST /api/v1/ingest/<slug>/preview/`` answers. The mapping can be edited on the page (as its
config-as-code document) without saving, and the last received conversations replayed through
the edited version to show what would change.
"""

import json
from typing import Any

from mappings.engine import preview
from mappings.management import config_io
from mappings.models import MappingSet

RECENT_SAMPLES = 10
MAX_REPLAY = 200


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _parse_json(text: str, what: str, errors: list[str]) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        errors.append(f"The {what} is not valid JSON: {error}")
        return None


def page_context(request, mapping_set: MappingSet) -> dict[str, Any]:
    data = request.POST if request.method == "POST" else request.GET
    recent = list(mapping_set.deliveries.order_by("-created_at")[:RECENT_SAMPLES])
    saved_text = _json(config_io.mapping_set_document(mapping_set))
    sample_text = data.get("sample") or (_json(recent[0].received_payload) if recent else "{}")
    if data.get("action") == "load":
        picked = mapping_set.deliveries.filter(pk=data.get("delivery")).first()
        sample_text = _json(picked.received_payload) if picked else sample_text
    mapping_text = data.get("mapping") or saved_text
    errors: list[str] = []
    spec = _edited_spec(mapping_text, saved_text, errors)
    context = {
        "recent": recent,
        "sample_text": sample_text,
        "mapping_text": mapping_text,
        "edited": spec is not None,
        "errors": errors,
        "replay_count": _replay_count(data.get("replay_count")),
    }
    if errors:
        return context
    sample = _parse_json(sample_text, "sample conversation", errors)
    if sample is not None and not isinstance(sample, dict):
        errors.append("The sample conversation must be a JSON object")
    elif sample is not None:
        result = preview.preview(mapping_set, sample, spec=spec).as_dict()
        context.update(result=result, result_text=_json(result))
    if data.get("action") == "replay":
        context["changes"] = _replay(mapping_set, spec, context["replay_count"])
    return context


def _edited_spec(mapping_text: str, saved_text: str, errors: list[str]):
    """The edited, unsaved mapping's spec; None when the mapping is the saved one."""
    document = _parse_json(mapping_text, "mapping", errors)
    if document is None or document == json.loads(saved_text):
        return None
    spec, problems = config_io.spec_from_document(document, "mapping")
    errors.extend(str(problem) for problem in problems)
    return spec


def _replay_count(value: Any) -> int:
    try:
        return max(1, min(MAX_REPLAY, int(value)))
    except (TypeError, ValueError):
        return 20


def _replay(mapping_set: MappingSet, spec, count: int) -> list[dict[str, Any]]:
    deliveries = mapping_set.deliveries.order_by("-created_at")[:count]
    changes = preview.replay_edited(mapping_set, spec or mapping_set.to_spec(), deliveries)
    return [
        {
            "delivery_id": change.delivery_id,
            "received_at": change.received_at,
            "changed": change.changed,
            "before": _json(change.before),
            "after": _json(change.after),
        }
        for change in changes
    ]
