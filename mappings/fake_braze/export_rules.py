"""Braze's rules for a ``POST /users/export/ids`` body, and the answer's shape (pure functions).

Braze documents the request and answer shapes but not the texts of its 400s: the messages
here are the fake's own, each naming the broken rule (docs/braze.md, "Reading a profile back").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .identifier_rules import primary_error
from .rules import BodyError, parse_body

MAX_IDS = 50  # external_ids and user_aliases together
LIST_IDENTIFIERS = ("external_ids", "user_aliases")
SINGLE_IDENTIFIERS = ("braze_id", "device_id", "email_address", "phone")
EXPORT_FIELDS = frozenset(
    {
        "apps", "attributed_campaign", "attributed_source", "attributed_adgroup",
        "attributed_ad", "braze_id", "campaigns_received", "canvases_received",
        "cards_clicked", "country", "created_at", "custom_attributes", "custom_events",
        "devices", "dob", "email", "email_subscribe", "external_id", "first_name", "gender",
        "home_city", "language", "last_coordinates", "last_name", "phone", "purchases",
        "push_subscribe", "push_tokens", "random_bucket", "time_zone", "total_revenue",
        "uninstalled_at", "user_aliases",
    }
)  # fmt: skip

NO_IDENTIFIER = (
    "An identifier is required: 'external_ids', 'user_aliases', 'braze_id', 'device_id', "
    "'email_address' or 'phone'"
)
TOO_MANY_IDS = f"At most {MAX_IDS} 'external_ids' and 'user_aliases' may be sent per request"
FIELDS_REQUIRED = "'fields_to_export' is required"


@dataclass(frozen=True)
class ExportQuery:
    """Who to look up, as ``(identifier, value)`` pairs in request order, and which fields."""

    lookups: list[tuple[str, Any]]
    fields: frozenset[str] | None  # None: every field


def parse_query(raw: bytes, fields_required: bool = True) -> ExportQuery:
    """The query in ``raw``, or ``BodyError`` with the reason for a 400."""
    body = parse_body(raw)
    lookups = list_lookups(body) + single_lookups(body)
    if not lookups:
        raise BodyError(NO_IDENTIFIER)
    return ExportQuery(lookups, requested_fields(body, fields_required))


def list_lookups(body: dict[str, Any]) -> list[tuple[str, Any]]:
    external_ids = body.get("external_ids", [])
    if not isinstance(external_ids, list) or not all(is_id(i) for i in external_ids):
        raise BodyError("'external_ids' must be an array of non-empty strings")
    aliases = body.get("user_aliases", [])
    if not isinstance(aliases, list) or any(primary_error("user_alias", a) for a in aliases):
        raise BodyError("'user_aliases' must be an array of user alias objects")
    if len(external_ids) + len(aliases) > MAX_IDS:
        raise BodyError(TOO_MANY_IDS)
    alias_keys = [(a["alias_name"], a["alias_label"]) for a in aliases]
    return [("external_ids", i) for i in external_ids] + [("user_aliases", a) for a in alias_keys]


def single_lookups(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """``braze_id``, ``device_id``, ``email_address``, ``phone``: one value each, not a list."""
    for name in SINGLE_IDENTIFIERS:
        if name in body and not is_id(body[name]):
            raise BodyError(f"'{name}' must be one non-empty string")
    return [(name, body[name]) for name in SINGLE_IDENTIFIERS if name in body]


def requested_fields(body: dict[str, Any], required: bool) -> frozenset[str] | None:
    if "fields_to_export" not in body:
        if required:
            raise BodyError(FIELDS_REQUIRED)
        return None
    fields = body["fields_to_export"]
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise BodyError("'fields_to_export' must be a non-empty array of field names")
    unknown = sorted(set(fields) - EXPORT_FIELDS)
    if unknown:
        # A custom attribute cannot be asked for by name: it comes in custom_attributes.
        raise BodyError(f"'fields_to_export' names unknown fields: {', '.join(unknown)}")
    return frozenset(fields)


def is_id(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def shown_id(identifier: str, value: Any) -> str:
    """How an identifier Braze does not know appears in ``invalid_user_ids`` (strings only: an
    alias as its alias_name, an assumption, as Braze's page shows no alias there)."""
    return value[0] if identifier == "user_aliases" else value


def answer_body(users: list[dict[str, Any]], invalid: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"message": "success", "users": users}
    if invalid:
        body["invalid_user_ids"] = invalid
    return body


def only_fields(user: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    return dict(user) if fields is None else {k: v for k, v in user.items() if k in fields}
