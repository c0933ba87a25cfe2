"""Delivery log rows made directly with the ORM, independent of how delivery runs (sync/async)."""

from datetime import datetime

from mappings.engine.mapping import build_payload
from mappings.models import Delivery, DeliveryAttempt, MappingSet
from mappings.models.audit import AttemptOutcome, DeliveryStatus

ANSWERS = {
    201: ('{"message": "success", "attributes_processed": 1}', AttemptOutcome.SUCCESS, ""),
    503: ("Service Unavailable", AttemptOutcome.FAILED, "Braze answered 503: Service Unavailable"),
    401: ('{"message": "Invalid API key"}', AttemptOutcome.FAILED, "Braze answered 401"),
}


def logged_delivery(
    mapping_set: MappingSet,
    conversation: dict,
    *,
    http_status: int = 503,
    created_at: datetime | None = None,
    response_body: str | None = None,
) -> Delivery:
    """A delivery mapped by ``mapping_set`` with one Braze call answered ``http_status``."""
    mapping = build_payload(mapping_set.to_spec(), conversation)
    body, outcome, error = ANSWERS[http_status]
    delivered = http_status == 201 and response_body is None
    delivery = Delivery.objects.create(
        mapping_set=mapping_set, environment=mapping_set.environment,
        external_id=mapping.external_id or "", mapping_version=mapping_set.version,
        status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED,
        reason="" if delivered else error or "Braze rejected the record",
        received_payload=conversation, braze_payload=mapping.payload, attempt_count=1,
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        delivery=delivery, environment=mapping_set.environment, mapping_set=mapping_set,
        url=mapping_set.environment.users_track_url, request_body=mapping.payload,
        response_status=http_status, response_body=response_body or body, duration_ms=42,
        outcome=AttemptOutcome.PARTIAL if response_body else outcome, error=error,
    )  # fmt: skip
    if created_at:
        Delivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
        delivery.attempts.update(created_at=created_at)
    return delivery


def for_user(conversation: dict, user_id: str) -> dict:
    return {**conversation, "user": {**conversation["user"], "id": user_id}}
