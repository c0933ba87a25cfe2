"""Rules for one object of the ``attributes`` array: standard and custom attributes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .identifier_rules import IDENTIFIER_KEYS, flags_error, identifier_error
from .reference_codes import COUNTRY_CODES, GENDERS, LANGUAGE_CODES, SUBSCRIBE_STATES
from .value_checks import (
    MAX_NESTED_BYTES,
    MAX_STRING,
    is_bool,
    is_dob,
    is_email,
    is_int,
    is_iso_datetime,
    is_location,
    is_number,
    is_phone,
    is_short_string,
    is_subscription_groups,
    is_time_zone,
    json_size,
    not_valid,
    one_of,
    shortened,
)

# name -> (predicate, what a valid value is, for the error text)
StandardRule = tuple[Callable[[Any], bool], str]

STANDARD_ATTRIBUTES: dict[str, StandardRule] = {
    "first_name": (is_short_string, "string"),
    "last_name": (is_short_string, "string"),
    "home_city": (is_short_string, "string"),
    "image_url": (is_short_string, "string"),
    "email": (is_email, "email"),
    "phone": (is_phone, "phone number"),
    "dob": (is_dob, "date of birth (YYYY-MM-DD)"),
    "country": (one_of(COUNTRY_CODES), "ISO-3166-1 alpha-2 country code"),
    "language": (one_of(LANGUAGE_CODES), "ISO-639-1 language code"),
    "gender": (one_of(GENDERS), "gender (M, F, O, N, P or null)"),
    "time_zone": (is_time_zone, "IANA time zone"),
    "email_subscribe": (one_of(SUBSCRIBE_STATES), "subscription state"),
    "push_subscribe": (one_of(SUBSCRIBE_STATES), "subscription state"),
    "email_open_tracking_disabled": (is_bool, "boolean"),
    "email_click_tracking_disabled": (is_bool, "boolean"),
    "current_location": (is_location, "location (latitude -90..90, longitude -180..180)"),
    "date_of_first_session": (is_iso_datetime, "ISO 8601 datetime"),
    "date_of_last_session": (is_iso_datetime, "ISO 8601 datetime"),
    "marked_email_as_spam_at": (is_iso_datetime, "ISO 8601 datetime"),
    "subscription_groups": (is_subscription_groups, "list of subscription groups"),
    # Shapes Braze documents elsewhere; only their container type is checked here.
    "facebook": (lambda v: isinstance(v, dict), "object"),
    "twitter": (lambda v: isinstance(v, dict), "object"),
    "push_tokens": (lambda v: isinstance(v, list), "list of push tokens"),
}

OBJECT_FLAGS = ("_update_existing_only", "_merge_objects")
SIMPLE_ARRAY_OPS = frozenset({"add", "remove"})
OBJECT_ARRAY_OPS = frozenset({"$add", "$remove", "$update"})
NESTED_KEY_FORBIDDEN = re.compile(r"[\s.$]")


def attributes_error(obj: dict[str, Any]) -> str | None:
    problem = identifier_error(obj) or flags_error(obj, OBJECT_FLAGS)
    if problem:
        return problem
    for name, value in obj.items():
        if name in IDENTIFIER_KEYS or name in OBJECT_FLAGS:
            continue
        problem = attribute_error(name, value)
        if problem:
            return problem
    return None


def attribute_error(name: str, value: Any) -> str | None:
    if value is None:  # null deletes the attribute at Braze: valid on purpose
        return None
    if name in STANDARD_ATTRIBUTES:
        predicate, what = STANDARD_ATTRIBUTES[name]
        return None if predicate(value) else not_valid(name, what)
    return custom_key_error(name) or custom_value_error(name, value)


def custom_key_error(name: str) -> str | None:
    if not name or len(name) > MAX_STRING or name.startswith("$"):
        return f"'{shortened(name)}' is not a valid custom attribute name"
    return None


def custom_value_error(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or is_number(value):
        return None
    if isinstance(value, str):
        return None if len(value) <= MAX_STRING else too_long(name)
    if isinstance(value, list):
        return array_error(name, value)
    if isinstance(value, dict):
        return operation_error(name, value)
    return not_valid(name, "custom attribute value")


def too_long(name: str) -> str:
    return f"The value provided for the '{shortened(name)}' field is longer than 255 characters."


def array_error(name: str, items: list[Any]) -> str | None:
    if any(isinstance(item, dict) for item in items):
        return nested_error(name, items)
    for item in items:
        if isinstance(item, list) or (isinstance(item, str) and len(item) > MAX_STRING):
            return not_valid(name, "array")
    return None


def operation_error(name: str, value: dict[str, Any]) -> str | None:
    """``{"inc": n}``, ``{"add"/"remove": [...]}``, ``{"$add"/"$remove"/"$update": [...]}``,
    else a nested object."""
    keys = set(value)
    if keys == {"inc"}:
        if is_int(value["inc"]):
            return None
        return f"'inc' for '{shortened(name)}' must be an integer"
    if keys and (keys <= SIMPLE_ARRAY_OPS or keys <= OBJECT_ARRAY_OPS):
        lists = all(isinstance(items, list) for items in value.values())
        return None if lists else not_valid(name, "array operation")
    return nested_error(name, value)


def nested_error(name: str, value: Any) -> str | None:
    if json_size(value) > MAX_NESTED_BYTES:
        return f"The value provided for the '{shortened(name)}' field is larger than 100 KB."
    return None if nested_value_ok(value) else not_valid(name, "nested object")


def nested_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(nested_value_ok(item) for item in value)
    if isinstance(value, str):
        return len(value) <= MAX_STRING
    if not isinstance(value, dict):
        return True
    if set(value) == {"$time"}:
        return is_iso_datetime(value["$time"])
    return all(nested_key_ok(key) and nested_value_ok(item) for key, item in value.items())


def nested_key_ok(key: str) -> bool:
    return 0 < len(key) <= MAX_STRING and not NESTED_KEY_FORBIDDEN.search(key)
