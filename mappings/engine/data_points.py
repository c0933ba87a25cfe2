"""How many Braze data points a /users/track body spends, by Braze's public rules (docs/braze.md,
"Data points (billing)"). Pure: a body in, a count out.

The rules, in our words:
- every attribute set on a profile is one data point, a value equal to the stored one included;
- identifiers and request flags are not attributes (``external_id``, ``user_alias``,
  ``braze_id``, ``_update_existing_only``, ``_merge_objects``), and country, language,
  subscription states (``email_subscribe``, ``push_subscribe``, ``subscription_groups``) and push
  tokens are free;
- an array set whole is one point; each value added to or removed from an array is one;
- a nested object costs one point per key in it (at every depth); ``{"inc": n}`` is one point;
  setting an attribute to ``null`` is one point;
- each event and each purchase is one point. Braze also bills event and purchase properties a
  workspace enabled for segmentation; a request does not say which, so they are not counted here.
"""

from collections.abc import Mapping
from typing import Any

NOT_ATTRIBUTES = frozenset(
    {"external_id", "user_alias", "braze_id", "_update_existing_only", "_merge_objects"}
)
FREE_ATTRIBUTES = frozenset(
    {"country", "language", "email_subscribe", "push_subscribe", "subscription_groups",
     "push_tokens"}
)  # fmt: skip
# Operations on arrays (simple ones, then arrays of objects): one point per value they carry.
ARRAY_OPERATIONS = frozenset({"add", "remove", "$add", "$remove", "$update"})


def data_points(body: Mapping[str, Any]) -> int:
    """The data points Braze bills for ``body`` (attributes, events, purchases) once accepted."""
    attributes = sum(_attribute_object_points(obj) for obj in body.get("attributes") or [])
    return attributes + len(body.get("events") or []) + len(body.get("purchases") or [])


def _attribute_object_points(obj: Mapping[str, Any]) -> int:
    return sum(
        _value_points(value)
        for name, value in obj.items()
        if name not in NOT_ATTRIBUTES and name not in FREE_ATTRIBUTES
    )


def _value_points(value: Any) -> int:
    if not isinstance(value, Mapping):
        return 1  # a plain value, a whole array, or null
    if set(value) == {"inc"}:
        return 1
    if value and set(value) <= ARRAY_OPERATIONS:
        return sum(len(items) if isinstance(items, list) else 1 for items in value.values())
    return max(1, _nested_keys(value))


def _nested_keys(obj: Mapping[str, Any]) -> int:
    """Every key of a nested object, its inner objects' keys included (a ``{"$time": ...}``
    date is a value, not an object)."""
    return sum(1 + (_nested_keys(v) if _is_object(v) else 0) for v in obj.values())


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) != {"$time"}
