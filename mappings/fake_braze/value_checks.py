"""Checks on single values (strings, dates, emails, locations...) and the error texts they give.

Shared by the attribute rules and the event and purchase rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from .reference_codes import GROUP_STATES, TIME_ZONES

MAX_STRING = 255
MAX_NESTED_BYTES = 100 * 1024

EMAIL_RE = re.compile(
    r"^[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
DOB_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IANA_RE = re.compile(r"^[A-Za-z]+(?:/[A-Za-z0-9_+\-]+)*$")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_short_string(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_STRING


def is_email(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 254 and bool(EMAIL_RE.match(value))


def is_phone(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_STRING


def is_dob(value: Any) -> bool:
    if not isinstance(value, str) or not DOB_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_datetime(value: Any) -> bool:
    """ISO 8601 date or datetime; a zone-less value means UTC at Braze."""
    if not isinstance(value, str) or len(value) < 8:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_time_zone(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return value in TIME_ZONES if TIME_ZONES else bool(IANA_RE.match(value))


def is_location(value: Any) -> bool:
    if not isinstance(value, dict) or set(value) != {"latitude", "longitude"}:
        return False
    lat, lon = value["latitude"], value["longitude"]
    return is_number(lat) and is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def is_subscription_groups(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(group, dict)
        and isinstance(group.get("subscription_group_id"), str)
        and group.get("subscription_state") in GROUP_STATES
        for group in value
    )


def one_of(choices: frozenset[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in choices


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, the size Braze's byte limits count."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def not_valid(name: str, what: str) -> str:
    return f"The value provided for the '{name}' field is not a valid {what}."


def shortened(text: str) -> str:
    """``text`` cut to 40 characters, so an error quoting a huge key stays readable."""
    return text if len(text) <= 40 else text[:37] + "..."
