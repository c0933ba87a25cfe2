"""How a Braze object names its user (all three arrays), and the boolean flags it may carry."""

from __future__ import annotations

from typing import Any

from .value_checks import is_email, is_phone, not_valid

PRIMARY_IDENTIFIERS = ("external_id", "user_alias", "braze_id")
IDENTIFIER_KEYS = frozenset(PRIMARY_IDENTIFIERS)
MAX_EXTERNAL_ID_BYTES = 987
ALIAS_SHAPE = "alias (alias_name and alias_label strings)"

IDENTIFIER_REQUIRED = "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
TWO_PRIMARIES = "Only one of 'external_id', 'braze_id' or 'user_alias' may be provided"


def identifier_error(obj: dict[str, Any]) -> str | None:
    """One primary identifier, or else an email or phone (Braze then finds or makes the user)."""
    primaries = [key for key in PRIMARY_IDENTIFIERS if obj.get(key) is not None]
    if len(primaries) > 1:
        return TWO_PRIMARIES
    if primaries:
        return primary_error(primaries[0], obj[primaries[0]])
    if obj.get("email") is not None:
        return None if is_email(obj["email"]) else not_valid("email", "email")
    if obj.get("phone") is not None:
        return None if is_phone(obj["phone"]) else not_valid("phone", "phone number")
    return IDENTIFIER_REQUIRED


def primary_error(name: str, value: Any) -> str | None:
    if name == "external_id":
        fits = isinstance(value, str) and 0 < len(value.encode()) <= MAX_EXTERNAL_ID_BYTES
        return None if fits else not_valid("external_id", "string of at most 987 bytes")
    if name == "braze_id":
        return None if isinstance(value, str) and value else not_valid("braze_id", "string")
    is_alias = (
        isinstance(value, dict)
        and isinstance(value.get("alias_name"), str)
        and isinstance(value.get("alias_label"), str)
    )
    return None if is_alias else not_valid("user_alias", ALIAS_SHAPE)


def flags_error(obj: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    for flag in allowed:
        if flag in obj and not isinstance(obj[flag], bool):
            return f"'{flag}' must be a boolean"
    return None
