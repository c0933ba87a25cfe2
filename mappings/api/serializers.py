"""Response shapes of the ingest API: compact, stable, and free of secrets."""

import json
from typing import Any

from mappings.api.errors import error_body
from mappings.models import DeliveryAttempt
from mappings.models.audit import DeliveryStatus
from mappings.services.delivery import IngestResult
from mappings.services.mapping import MappingResult


def _parsed_response(attempt: DeliveryAttempt) -> dict[str, Any]:
    try:
        value = json.loads(attempt.response_body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def braze_summary(attempt: DeliveryAttempt | None) -> dict[str, Any] | None:
    """Braze's answer in short: status, message, and per-object errors if any."""
    if attempt is None:
        return None
    parsed = _parsed_response(attempt)
    summary: dict[str, Any] = {
        "status": attempt.response_status,
        "message": parsed.get("message") or attempt.error,
    }
    if parsed.get("errors"):
        summary["errors"] = parsed["errors"]
    return summary


def rejection_message(mapping: MappingResult) -> str:
    blocking = [problem for problem in mapping.problems if problem.blocking]
    if all(problem.code == "missing" for problem in blocking):
        paths = ", ".join(problem.source_path for problem in blocking)
        return f"The conversation is missing required fields: {paths}"
    listed = "; ".join(f"{p.row} ({p.source_path}): {p.reason}" for p in blocking[:5])
    return f"The conversation could not be mapped: {listed}"


def _rejection(result: IngestResult) -> tuple[dict[str, Any], int]:
    mapping = result.mapping
    problems = [problem.as_dict() for problem in mapping.problems]
    body = error_body(
        "mapping_failed",
        rejection_message(mapping),
        {"missing": mapping.missing, "problems": problems},
    )
    return {**body, "status": result.delivery.status, "delivery_id": str(result.delivery.pk)}, 422


def ingest_response(result: IngestResult) -> tuple[dict[str, Any], int]:
    """The JSON body and HTTP status answered for one ingest."""
    delivery = result.delivery
    if delivery.status == DeliveryStatus.REJECTED:
        return _rejection(result)
    delivered = delivery.status == DeliveryStatus.DELIVERED
    body: dict[str, Any] = {
        "success": delivered,
        "status": delivery.status,
        "delivery_id": str(delivery.pk),
        "sent": delivery.braze_payload,
        "braze": braze_summary(result.attempt),
    }
    if result.mapping.problems:  # the drop_field policy sent the record without these fields
        body["problems"] = [problem.as_dict() for problem in result.mapping.problems]
    if delivered:
        return body, 200
    body["error"] = {"code": "braze_failed", "message": delivery.reason}
    return body, 502
