"""Masking for log pages and exports: values of sensitive attributes never leave as plain text.

A mapping row marked ``is_sensitive`` masks its Braze attribute in the stored /users/track bodies
and its source path in the received conversation. Only what people see is masked: the stored rows
keep the full value, which is what Braze received.
"""

import copy
import json
from dataclasses import dataclass
from typing import Any

from mappings.engine.mapping import lookup
from mappings.models import FieldMapping

MASK = "•••• masked"
_MISSING = object()


@dataclass(frozen=True)
class Sensitivity:
    """What to mask for one mapping set: Braze attribute names and conversation source paths."""

    attributes: frozenset[str] = frozenset()
    source_paths: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.attributes or self.source_paths)


def sensitivities(mapping_set_ids: set[int]) -> dict[int, Sensitivity]:
    """One query: the sensitive rows of each given mapping set."""
    found: dict[int, tuple[set[str], set[str]]] = {pk: (set(), set()) for pk in mapping_set_ids}
    rows = FieldMapping.objects.filter(mapping_set_id__in=mapping_set_ids, is_sensitive=True)
    for set_id, target, source in rows.values_list(
        "mapping_set_id", "target_attribute", "source_path"
    ):
        found[set_id][0].add(target)
        found[set_id][1].add(source)
    return {pk: Sensitivity(frozenset(a), frozenset(s)) for pk, (a, s) in found.items()}


def sensitivity_for(mapping_set_id: int) -> Sensitivity:
    return sensitivities({mapping_set_id})[mapping_set_id]


def mask_braze_body(body: Any, sensitivity: Sensitivity) -> Any:
    """A copy of a /users/track body with sensitive attribute values masked."""
    if not sensitivity.attributes or not isinstance(body, dict):
        return body
    masked = copy.deepcopy(body)
    for record in masked.get("attributes") or []:
        if isinstance(record, dict):
            for name in sensitivity.attributes & record.keys():
                record[name] = MASK
    return masked


def mask_conversation(conversation: Any, sensitivity: Sensitivity) -> Any:
    """A copy of a received conversation with the values at sensitive source paths masked."""
    if not sensitivity.source_paths:
        return conversation
    masked = copy.deepcopy(conversation)
    for path in sensitivity.source_paths:
        _mask_path(masked, path)
    return masked


def mask_text(text: str, values: set[str]) -> str:
    """Replace each known sensitive value inside free text (error messages, raw bodies)."""
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def sensitive_values(braze_body: Any, sensitivity: Sensitivity) -> set[str]:
    """The plain values a body carries for sensitive attributes, to scrub them from free text."""
    values: set[str] = set()
    if not sensitivity.attributes or not isinstance(braze_body, dict):
        return values
    for record in braze_body.get("attributes") or []:
        if isinstance(record, dict):
            for name in sensitivity.attributes & record.keys():
                values.add(_as_text(record[name]))
    return values


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _mask_path(document: Any, path: str) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = lookup(document, parent_path) if parent_path else document
    if "[" in leaf:  # a trailing index, e.g. answers[0]: mask it inside its list
        name, _, index = leaf.partition("[")
        container = parent.get(name) if isinstance(parent, dict) else None
        position = int(index.rstrip("]").split("][")[0])
        if isinstance(container, list) and position < len(container):
            container[position] = MASK
        return
    if isinstance(parent, dict) and leaf in parent:
        parent[leaf] = MASK
