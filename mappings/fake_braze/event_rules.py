"""Rules for one object of the ``events`` or ``purchases`` array."""

from __future__ import annotations

from typing import Any

from .identifier_rules import flags_error, identifier_error
from .reference_codes import CURRENCY_CODES
from .value_checks import (
    MAX_NESTED_BYTES,
    MAX_STRING,
    is_int,
    is_iso_datetime,
    is_number,
    json_size,
    one_of,
    shortened,
)

MAX_FLAT_PROPERTIES_BYTES = 50 * 1024
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})


def events_error(obj: dict[str, Any]) -> str | None:
    name = obj.get("name")
    if name is None:
        return "'name' is required"
    if not isinstance(name, str) or not name:
        return "'name' is not valid"
    return occurrence_error(obj)


def purchases_error(obj: dict[str, Any]) -> str | None:
    product_id = obj.get("product_id")
    if product_id is None:
        return "'product_id' is required"
    if not isinstance(product_id, str) or not 0 < len(product_id) <= MAX_STRING:
        return "'product_id' is not valid"
    return money_error(obj) or occurrence_error(obj)


def money_error(obj: dict[str, Any]) -> str | None:
    if not one_of(CURRENCY_CODES)(obj.get("currency")):
        return "'currency' is not valid"
    if not is_number(obj.get("price")):
        return "'price' is not valid"
    quantity = obj.get("quantity", 1)
    if not is_int(quantity) or not 1 <= quantity <= 100:
        return "'quantity' is not valid"
    return None


def occurrence_error(obj: dict[str, Any]) -> str | None:
    """Fields events and purchases share: identifier, time, properties, app_id, flag."""
    problem = identifier_error(obj) or flags_error(obj, ("_update_existing_only",))
    if problem:
        return problem
    if "time" not in obj:
        return "'time' is required"
    if not is_iso_datetime(obj["time"]):
        return "'time' is not valid"
    if "app_id" in obj and not isinstance(obj["app_id"], str):
        return "'app_id' is not valid"
    return properties_error(obj.get("properties", {}))


def properties_error(properties: Any) -> str | None:
    if not isinstance(properties, dict):
        return "'properties' is not valid"
    for key, value in properties.items():
        if not property_key_ok(key):
            return f"'{shortened(key)}' is not a valid property name"
        if isinstance(value, str) and len(value) > MAX_STRING:
            return f"The value of property '{shortened(key)}' is longer than 255 characters."
    # Braze allows more bytes once the properties nest objects or arrays.
    nested = any(isinstance(value, dict | list) for value in properties.values())
    if json_size(properties) > (MAX_NESTED_BYTES if nested else MAX_FLAT_PROPERTIES_BYTES):
        return "'properties' is too large"
    return None


def property_key_ok(key: str) -> bool:
    reserved = key.startswith("$") or key in RESERVED_PROPERTY_KEYS
    return 0 < len(key) <= MAX_STRING and not reserved
