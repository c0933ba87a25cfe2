"""Where a row's value goes in the /users/track body, and Braze's rules for it.

Target names (docs/braze.md states each Braze rule checked here, with its source):

- ``first_name``, ``dob``, ... (Braze's standard attributes) or any other name (a custom
  attribute) in the user's attributes object. Custom attributes take an operation: ``set``
  (string, number, boolean, ISO date text, array, nested object), ``increment`` (``{"inc": n}``),
  ``add`` / ``remove`` (array items), ``merge`` (a nested object deep-merged with
  ``_merge_objects``).
- ``events[0].name``, ``events[0].time``, ``events[0].app_id``, ``events[0].properties.<key>``:
  a custom event, sent when its name has a value. Its time defaults to the moment of mapping.
- ``purchases[0].product_id``, ``.currency``, ``.price``, ``.quantity``, ``.time``, ``.app_id``,
  ``.properties.<key>``: a purchase, sent when its product id has a value.

:func:`parse_target` checks a name when the mapping is compiled; :func:`checker` gives the
function that checks (and shapes) a value at run time, raising ``TransformError`` with the reason.
"""

import json
import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from mappings.engine import codes
from mappings.engine.transforms import EMPTY, TransformError

MAX_STRING = 255
MAX_NESTED_BYTES = 100 * 1024
MAX_FLAT_PROPERTIES_BYTES = 50 * 1024
MAX_EXTERNAL_ID_BYTES = 987
DEFAULT_MAX_ARRAY_LENGTH = 500  # Braze's workspace setting ranges from 25 to 500

OPERATIONS = ("set", "increment", "add", "remove", "merge")
RESERVED_ATTRIBUTES = frozenset(
    {"external_id", "user_alias", "braze_id", "_update_existing_only", "_merge_objects"}
)
EVENT_FIELDS = ("name", "time", "app_id", "properties")
PURCHASE_FIELDS = ("product_id", "currency", "price", "quantity", "time", "app_id", "properties")
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})

_OCCURRENCE = re.compile(r"^(events|purchases)\[(\d{1,2})\]\.([a-z_]+)(?:\.(.+))?$")
_EMAIL = re.compile(
    r"^[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_NESTED_KEY_FORBIDDEN = re.compile(r"[\s.$]")
SUBSCRIBE_STATES = frozenset({"opted_in", "subscribed", "unsubscribed"})
GROUP_STATES = frozenset({"subscribed", "unsubscribed"})


class TargetError(ValueError):
    """The target name or operation is not something Braze accepts."""


@dataclass(frozen=True)
class Target:
    kind: str  # attribute, events or purchases
    name: str  # the attribute name, or the event/purchase field
    index: int = 0
    key: str = ""  # the property key, for properties.<key>
    operation: str = "set"

    @property
    def is_standard(self) -> bool:
        return self.kind == "attribute" and self.name in STANDARD_ATTRIBUTES


def parse_target(text: str, operation: str = "set") -> Target:
    if not isinstance(text, str) or not text:
        raise TargetError("the target is empty")
    if operation not in OPERATIONS:
        raise TargetError(f"unknown operation {operation!r}; use one of {', '.join(OPERATIONS)}")
    match = _OCCURRENCE.match(text)
    if match:
        return _occurrence(match, operation)
    if text.startswith(("events[", "purchases[")):
        raise TargetError("write events[0].<field> or purchases[0].<field>")
    return _attribute(text, operation)


def _attribute(name: str, operation: str) -> Target:
    if name in RESERVED_ATTRIBUTES:
        raise TargetError(f"'{name}' is set by the mapping set's identifier, not by a row")
    if len(name) > MAX_STRING or name.startswith("$"):
        raise TargetError("custom attribute names are at most 255 characters, not starting with $")
    if name in STANDARD_ATTRIBUTES and operation != "set":
        raise TargetError(f"'{name}' is a standard attribute: only the set operation applies")
    return Target("attribute", name, operation=operation)


def _occurrence(match: re.Match, operation: str) -> Target:
    kind, index, field, key = match[1], int(match[2]), match[3], match[4] or ""
    fields = EVENT_FIELDS if kind == "events" else PURCHASE_FIELDS
    if field not in fields:
        raise TargetError(f"{kind} have no field '{field}'; use one of {', '.join(fields)}")
    if (field == "properties") != bool(key):
        raise TargetError(f"write {kind}[{index}].properties.<key>")
    if key and (len(key) > MAX_STRING or key.startswith("$") or key in RESERVED_PROPERTY_KEYS):
        raise TargetError("property keys are at most 255 characters, not $..., time or event_name")
    if operation != "set":
        raise TargetError("only the set operation applies to events and purchases")
    return Target(kind, field, index, key)


# -- value checks -------------------------------------------------------------------------------

Check = Callable[[Any], Any]


def _invalid(what: str) -> TransformError:
    return TransformError(f"not a valid {what}")


def _short_text(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("text value")
    if len(value) > MAX_STRING:
        raise TransformError("longer than 255 characters")
    return value


def _email(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.match(value):
        raise _invalid("email address")
    return value


def _dob(value: Any) -> str:
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise _invalid("date of birth (YYYY-MM-DD; add the dob transform)")


def iso_datetime(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 10 and value[:4].isdigit():
        try:
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise _invalid("ISO 8601 date/time (add the date or datetime transform)")


def _one_of(choices: Callable[[], frozenset[str]] | frozenset[str], what: str) -> Check:
    def check(value: Any) -> str:
        allowed = choices() if callable(choices) else choices
        if not isinstance(value, str) or value not in allowed:
            raise _invalid(what)
        return value

    return check


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid("boolean (add the bool transform)")
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _location(value: Any) -> dict:
    if not isinstance(value, dict) or set(value) != {"latitude", "longitude"}:
        raise _invalid("location {latitude, longitude}")
    lat, lon = value["latitude"], value["longitude"]
    if not (is_number(lat) and is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise _invalid("location (latitude -90..90, longitude -180..180)")
    return value


def _groups(value: Any) -> list:
    ok = isinstance(value, list) and all(
        isinstance(group, dict)
        and set(group) == {"subscription_group_id", "subscription_state"}
        and isinstance(group["subscription_group_id"], str)
        and group["subscription_state"] in GROUP_STATES
        for group in value
    )
    if not ok:
        raise _invalid("list of {subscription_group_id, subscription_state}")
    return value


def _of_type(kind: type, what: str) -> Check:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise _invalid(what)
        return _pruned(value)

    return check


STANDARD_ATTRIBUTES: dict[str, Check] = {
    "first_name": _short_text,
    "last_name": _short_text,
    "home_city": _short_text,
    "image_url": _short_text,
    "email": _email,
    "phone": _short_text,
    "dob": _dob,
    "country": _one_of(
        codes.country_codes, "ISO-3166-1 alpha-2 country (add the country transform)"
    ),
    "language": _one_of(codes.language_codes, "ISO-639-1 language (add the language transform)"),
    "gender": _one_of(codes.GENDER_CODES, "Braze gender M/F/O/N/P (add the gender transform)"),
    "time_zone": _one_of(_time_zones, "IANA time zone name"),
    "email_subscribe": _one_of(SUBSCRIBE_STATES, "state: opted_in, subscribed or unsubscribed"),
    "push_subscribe": _one_of(SUBSCRIBE_STATES, "state: opted_in, subscribed or unsubscribed"),
    "email_open_tracking_disabled": _boolean,
    "email_click_tracking_disabled": _boolean,
    "current_location": _location,
    "date_of_first_session": iso_datetime,
    "date_of_last_session": iso_datetime,
    "marked_email_as_spam_at": iso_datetime,
    "subscription_groups": _groups,
    "facebook": _of_type(dict, "object"),
    "twitter": _of_type(dict, "object"),
    "push_tokens": _of_type(list, "list of push tokens"),
}


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or is_number(value):
        return value
    if isinstance(value, str):
        return _short_text(value)
    raise _invalid("array item (text, number or boolean)")


def _pruned(value: Any) -> Any:
    """A copy without nulls: a null inside a nested object would delete that key at Braze."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value if item is not None]
    return value


def _nested(value: Any) -> Any:
    value = _pruned(value)
    _check_nested(value)
    if json_size(value) > MAX_NESTED_BYTES:
        raise TransformError("nested value larger than 100 KB")
    return value


def _check_nested(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not 0 < len(key) <= MAX_STRING or _NESTED_KEY_FORBIDDEN.search(key):
                raise TransformError("nested object keys must not contain spaces, '.' or '$'")
            _check_nested(item)
    elif isinstance(value, list):
        for item in value:
            _check_nested(item)
    elif isinstance(value, str):
        _short_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _invalid("number")


def _array(max_length: int) -> Check:
    def check(items: list) -> list:
        items = [item for item in items if item is not None]
        if items and all(isinstance(item, dict) for item in items):
            return _nested(items)
        unique = list(dict.fromkeys(_scalar(item) for item in items))  # Braze keeps values unique
        if len(unique) > max_length:
            raise TransformError(f"more than {max_length} array items")
        return unique

    return check


def _custom_set(max_length: int) -> Check:
    array = _array(max_length)

    def check(value: Any) -> Any:
        if type(value) is str and len(value) <= MAX_STRING:  # the common case, first
            return value
        if isinstance(value, list):
            return array(value)
        if isinstance(value, dict):
            nested = _nested(value)  # nulls pruned first: {"add": 1, "x": null} sends {"add": 1}
            _refuse_operation_shape(nested)
            return nested
        return _scalar(value)

    return check


# Braze reads a custom attribute's object value whose keys are only these as that operation
# ({"inc": 1} increments; {"add": [...]} / {"remove": [...]} change an array), not as a nested
# object: a conversation's answer shaped so would change the attribute in a way no row asked for.
_OPERATION_KEYS = ({"inc"}, {"add", "remove"})


def _refuse_operation_shape(value: dict) -> None:
    if value and any(set(value) <= keys for keys in _OPERATION_KEYS):
        names = ", ".join(sorted(value))
        raise TransformError(
            f"an object whose only keys are {names} would be read by Braze as an operation, "
            "not stored as a nested object (use the increment/add/remove operation instead)"
        )


def _increment(value: Any) -> dict:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("whole number to increment by (add the int transform)")
    return {"inc": value}


def _array_change(operation: str, max_length: int) -> Check:
    def check(value: Any) -> dict:
        items = value if isinstance(value, list) else [value]
        unique = list(dict.fromkeys(_scalar(item) for item in items if item is not None))
        if len(unique) > max_length:
            raise TransformError(f"more than {max_length} array items")
        return {operation: unique} if unique else EMPTY  # nothing to add or remove

    return check


def _merge(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _invalid("nested object to merge")
    return _nested(value)


def _property(value: Any) -> Any:
    if isinstance(value, dict | list):
        return _nested(value)
    return _scalar(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or value not in codes.currency_codes():
        raise _invalid("ISO-4217 currency code, like USD (add the upper transform)")
    return value


def _price(value: Any) -> float | int:
    if not is_number(value):
        raise _invalid("price (add the float transform)")
    return value


def _quantity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise _invalid("quantity (a whole number 1..100)")
    return value


def _product_id(value: Any) -> str:
    value = _short_text(value) if isinstance(value, str) else _short_text(str(value))
    return value


_OCCURRENCE_CHECKS: dict[str, Check] = {
    "name": _short_text,
    "time": iso_datetime,
    "app_id": _short_text,
    "properties": _property,
    "product_id": _product_id,
    "currency": _currency,
    "price": _price,
    "quantity": _quantity,
}


def checker(target: Target, max_array_length: int = DEFAULT_MAX_ARRAY_LENGTH) -> Check:
    """The run-time check for values sent to ``target``."""
    if target.kind != "attribute":
        return _OCCURRENCE_CHECKS[target.name]
    if target.is_standard:
        return STANDARD_ATTRIBUTES[target.name]
    operation = target.operation
    if operation == "increment":
        return _increment
    if operation in ("add", "remove"):
        return _array_change(operation, max_array_length)
    if operation == "merge":
        return _merge
    return _custom_set(max_array_length)


# The type each target expects, for the coerce transform (text from Voiceflow, Twilio, forms).
_STANDARD_TYPES = {
    "dob": "date",
    "email_open_tracking_disabled": "boolean",
    "email_click_tracking_disabled": "boolean",
    "date_of_first_session": "datetime",
    "date_of_last_session": "datetime",
    "marked_email_as_spam_at": "datetime",
}
_STRUCTURED = frozenset(
    {"current_location", "subscription_groups", "facebook", "twitter", "push_tokens"}
)
_OCCURRENCE_TYPES = {"time": "datetime", "price": "number", "quantity": "integer"}


def value_type(target: Target) -> str:
    """What ``target`` expects, as a coerce type: text, number, integer, boolean, date, datetime,
    or auto (a custom attribute, a property or a structured value: decided by the value)."""
    if target.kind == "identifier":
        return "text"
    if target.kind != "attribute":
        return "auto" if target.name == "properties" else _OCCURRENCE_TYPES.get(target.name, "text")
    if target.is_standard:
        if target.name in _STRUCTURED:
            return "auto"
        return _STANDARD_TYPES.get(target.name, "text")
    return "integer" if target.operation == "increment" else "auto"


def identifier_check(kind: str) -> Check:
    """The check for the user identifier: external_id, user_alias (its name), email or phone."""
    return {"email": _email, "phone": _short_text}.get(kind, _external_id)


def _external_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TransformError("must be text or a whole number")
    text = str(value)
    if len(text.encode()) > MAX_EXTERNAL_ID_BYTES:
        raise TransformError("longer than Braze's 987 bytes")
    return text


def properties_size_error(properties: dict) -> str | None:
    nested = any(isinstance(value, dict | list) for value in properties.values())
    if not nested and len(properties) <= 20:
        return None  # 20 keys and values of at most 255 characters stay under 50 KB

    limit = MAX_NESTED_BYTES if nested else MAX_FLAT_PROPERTIES_BYTES
    return None if json_size(properties) <= limit else f"properties larger than {limit // 1024} KB"


__all__ = ["EMPTY", "OPERATIONS", "Target", "TargetError", "checker", "parse_target"]
