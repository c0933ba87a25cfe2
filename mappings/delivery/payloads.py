"""What a delivery sends: its stored Braze body minus the attributes skipped as unchanged, and
the digests the dedup of unchanged attributes keeps. Plain data in, plain data out."""

import hashlib
import json

IDENTIFIER_KEYS = ("external_id", "user_alias", "braze_id", "_update_existing_only")


def value_digest(value) -> str:
    """What the dedup of unchanged attributes keeps per attribute: a digest, never the value,
    so this table holds no personal data (emails, phones) beyond the audit log's."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def outgoing_payload(delivery) -> dict:
    """The delivery's Braze body minus the attributes skipped as unchanged."""
    return trimmed_payload(delivery.braze_payload, delivery.skipped_attributes)


def trimmed_payload(braze_payload: dict | None, skipped_attributes: list | None) -> dict:
    """A Braze body minus the attributes skipped as unchanged (from plain stored values)."""
    payload = dict(braze_payload or {})
    skipped = set(skipped_attributes or [])
    if not skipped or not payload.get("attributes"):
        return payload
    kept = []
    for obj in payload["attributes"]:
        trimmed = {k: v for k, v in obj.items() if k not in skipped}
        if set(trimmed) - set(IDENTIFIER_KEYS):
            kept.append(trimmed)
    if kept:
        payload["attributes"] = kept
    else:
        payload.pop("attributes")
    return payload


def has_objects(payload: dict) -> bool:
    return any(payload.get(kind) for kind in ("attributes", "events", "purchases"))
