"""Response shapes of the ingest API: compact, stable, and free of secrets."""

import json
from typing import Any

from mappings.api.errors import error_body
from mappings.engine.mapping import MappingResult
from mappings.ingest.conversations import IngestResult
from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import OPEN_STATUSES, AttemptOutcome, DeliveryStatus


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


def _queued(result: IngestResult, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    # Stored and certain to be retried: success (the flow may go on), status says it is not
    # in Braze yet. "accepted" = async, not tried yet; "queued" = tried, Braze could not take it.
    tried = result.attempt is not None and result.attempt.sent_at is not None
    body["status"] = "queued" if tried or result.mode == "sync" else "accepted"
    if not tried:
        body.pop("braze")
    return body, 202


def _partly_accepted(attempt: DeliveryAttempt | None) -> bool:
    return attempt is not None and attempt.outcome == AttemptOutcome.PARTIAL


def ingest_response(result: IngestResult, partial_success: str = "fail") -> tuple[dict, int]:
    """The JSON body and HTTP status answered for one ingest.

    ``partial_success`` is the mapping set's policy for a 201 whose ``errors`` list refused some
    of the record's objects (the delivery is failed, its attempt partial): ``fail`` answers 502
    as for any refused record, ``warn`` answers 200, ``success`` true and status ``partial``,
    Braze's refusals listed under ``braze.errors``.
    """
    if result.stored_answer is not None:
        return result.stored_answer
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
    if delivery.skipped_attributes:
        body["skipped_attributes"] = delivery.skipped_attributes
    if delivered:
        return body, 200
    if partial_success == "warn" and _partly_accepted(result.attempt):
        body.update(success=True, status="partial")
        return body, 200
    if delivery.status in OPEN_STATUSES:
        body["success"] = True
        return _queued(result, body)
    body["error"] = {"code": "braze_failed", "message": delivery.reason}
    return body, 502


def _attempt_summary(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempt_number": attempt.attempt_number,
        "created_at": attempt.created_at,
        "sent_at": attempt.sent_at,
        "outcome": attempt.outcome,
        "response_status": attempt.response_status,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "ambiguous": attempt.ambiguous,
        "batch_size": attempt.batch_size,
        "manual": attempt.triggered_by_id is not None,
    }


def delivery_detail(delivery: Delivery) -> dict[str, Any]:
    """A delivery's state and attempts, for ``GET /api/v1/deliveries/<id>/``."""
    return {
        "success": delivery.status == DeliveryStatus.DELIVERED,
        "delivery_id": str(delivery.pk),
        "status": delivery.status,
        "reason": delivery.reason,
        "mapping_set": delivery.mapping_set.slug,
        "external_id": delivery.external_id,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "next_attempt_at": delivery.next_attempt_at,
        "skipped_attributes": delivery.skipped_attributes,
        "sent": delivery.braze_payload,
        "attempts": [_attempt_summary(a) for a in delivery.attempts.order_by("attempt_number")],
    }
