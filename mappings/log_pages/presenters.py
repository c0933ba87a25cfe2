"""What a log page shows of a delivery: pretty, masked JSON and Braze's per-record errors."""

import json
from dataclasses import dataclass, field
from typing import Any

from mappings.log_pages import redaction
from mappings.log_pages.redaction import Sensitivity
from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import REPLAYABLE_STATUSES


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class RecordError:
    """One entry of Braze's ``errors`` array, next to the record it is about."""

    where: str
    problem: str
    record: str


@dataclass(frozen=True)
class AttemptView:
    attempt: DeliveryAttempt
    request: str
    response: str
    error: str
    record_errors: list[RecordError] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryView:
    delivery: Delivery
    received: str
    braze_body: str
    problems: list[dict[str, Any]]
    attempts: list[AttemptView]
    masked_attributes: list[str]

    @property
    def replayable(self) -> bool:
        return self.delivery.status in REPLAYABLE_STATUSES


def delivery_view(delivery: Delivery) -> DeliveryView:
    sensitivity = redaction.sensitivity_for(delivery.mapping_set_id)
    attempts = delivery.attempts.select_related("triggered_by").order_by("attempt_number")
    return DeliveryView(
        delivery=delivery,
        received=pretty(redaction.mask_conversation(delivery.received_payload, sensitivity)),
        braze_body=pretty(redaction.mask_braze_body(delivery.braze_payload, sensitivity)),
        problems=problem_rows(delivery.problems, sensitivity),
        attempts=[attempt_view(attempt, sensitivity) for attempt in attempts],
        masked_attributes=sorted(sensitivity.attributes),
    )


def problem_rows(problems: Any, sensitivity: Sensitivity) -> list[dict[str, Any]]:
    """The stored problems as table rows; a value of a row marked sensitive since is masked too."""
    rows = []
    for problem in problems if isinstance(problems, list) else []:
        if not isinstance(problem, dict):
            continue
        sensitive = (
            problem.get("target") in sensitivity.attributes
            or problem.get("source_path") in sensitivity.source_paths
        )
        rows.append({**problem, "value": redaction.MASK if sensitive else problem.get("value")})
    return rows


def attempt_view(attempt: DeliveryAttempt, sensitivity: Sensitivity) -> AttemptView:
    values = redaction.sensitive_values(attempt.request_body, sensitivity)
    request = redaction.mask_braze_body(attempt.request_body, sensitivity)
    answer = _parsed(attempt.response_body)
    response = pretty(answer) if answer is not None else attempt.response_body
    return AttemptView(
        attempt=attempt,
        request=pretty(request),
        response=redaction.mask_text(response, values),
        error=redaction.mask_text(attempt.error, values),
        record_errors=_record_errors(answer, request),
    )


def _parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _record_errors(answer: Any, request: Any) -> list[RecordError]:
    if not isinstance(answer, dict) or not isinstance(request, dict):
        return []
    found = []
    for error in answer.get("errors") or []:
        if not isinstance(error, dict):
            continue
        kind, index = error.get("input_array"), error.get("index")
        records = request.get(kind) if isinstance(kind, str) else None
        record = (
            records[index]
            if isinstance(records, list) and isinstance(index, int) and 0 <= index < len(records)
            else None
        )
        found.append(
            RecordError(
                where=f"{kind}[{index}]" if kind is not None else "(whole request)",
                problem=str(error.get("type", error)),
                record=pretty(record) if record is not None else "(record not found in request)",
            )
        )
    return found
