"""Delivery: turn an accepted conversation into Braze calls, recording each in the audit log.

The Delivery and its first attempt row are committed before Braze is called, and the attempt is
updated after, so a crash mid-call leaves a pending attempt to investigate, never nothing. No
database transaction is held open across the HTTP call.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from mappings.encryption import SecretDecryptionError
from mappings.models import ApiClient, BrazeCredential, Delivery, DeliveryAttempt, MappingSet
from mappings.models.audit import REPLAYABLE_STATUSES, AttemptOutcome, DeliveryStatus
from mappings.services import braze, discovery
from mappings.services.mapping import MappingResult

logger = logging.getLogger(__name__)


class NotReplayable(Exception):
    """Only failed or dead deliveries can be replayed."""


@dataclass(frozen=True)
class IngestResult:
    delivery: Delivery
    mapping: MappingResult
    attempt: DeliveryAttempt | None = None


def ingest(
    mapping_set: MappingSet, api_client: ApiClient | None, conversation: Any
) -> IngestResult:
    """Map one conversation and deliver it to Braze now, logging everything."""
    mapping = mapping_set.compiled().run(conversation)
    discovery.record(mapping_set, conversation)
    if not mapping.ok:
        return IngestResult(
            _record_rejection(mapping_set, api_client, conversation, mapping), mapping
        )
    delivery, attempt = _record_accepted(mapping_set, api_client, conversation, mapping)
    _send(delivery, attempt)
    return IngestResult(delivery, mapping, attempt)


def _record_rejection(
    mapping_set: MappingSet, api_client: ApiClient | None, conversation: Any, mapping: MappingResult
) -> Delivery:
    return Delivery.objects.create(
        mapping_set=mapping_set,
        environment=mapping_set.environment,
        api_client=api_client,
        external_id=mapping.external_id or "",
        status=DeliveryStatus.REJECTED,
        mapping_version=mapping_set.version,
        reason="; ".join(f"{p.source_path}: {p.reason}" for p in mapping.problems if p.blocking),
        received_payload=conversation,
        problems=[problem.as_dict() for problem in mapping.problems],
    )


@transaction.atomic
def _record_accepted(
    mapping_set: MappingSet, api_client: ApiClient | None, conversation: Any, mapping: MappingResult
) -> tuple[Delivery, DeliveryAttempt]:
    environment = mapping_set.environment
    delivery = Delivery.objects.create(
        mapping_set=mapping_set,
        environment=environment,
        api_client=api_client,
        external_id=mapping.external_id or "",
        received_payload=conversation,
        braze_payload=mapping.payload,
        mapping_version=mapping_set.version,
        # With the drop_field policy the record is sent without its unusable fields; why is here.
        problems=[problem.as_dict() for problem in mapping.problems],
    )
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        environment=environment,
        mapping_set=mapping_set,
        url=environment.users_track_url,
        request_body=mapping.payload,
    )
    return delivery, attempt


def replay(delivery: Delivery, *, triggered_by=None) -> DeliveryAttempt:
    """Send a failed or dead delivery's stored Braze body again, as a new logged attempt."""
    if delivery.status not in REPLAYABLE_STATUSES:
        raise NotReplayable(f"A {delivery.status} delivery cannot be replayed")
    with transaction.atomic():
        last = delivery.attempts.aggregate(last=Max("attempt_number"))["last"] or 0
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            attempt_number=last + 1,
            environment=delivery.environment,
            mapping_set=delivery.mapping_set,
            url=delivery.environment.users_track_url,
            request_body=delivery.braze_payload,
            triggered_by=triggered_by,
        )
        delivery.status = DeliveryStatus.PENDING
        delivery.reason = ""
        delivery.save(update_fields=["status", "reason", "updated_at"])
    _send(delivery, attempt)
    return attempt


def _api_key(delivery: Delivery) -> str:
    try:
        return delivery.environment.credential.api_key()
    except BrazeCredential.DoesNotExist as error:
        raise braze.BrazeError(
            f"Environment '{delivery.environment}' has no Braze API key configured", permanent=True
        ) from error
    except SecretDecryptionError as error:
        raise braze.BrazeError(str(error), permanent=True) from error


def _send(delivery: Delivery, attempt: DeliveryAttempt) -> None:
    try:
        api_key = _api_key(delivery)
        answer = braze.track_users(
            delivery.environment.rest_endpoint, api_key, attempt.request_body
        )
    except braze.BrazeError as error:
        _record_failure(delivery, attempt, error)
        return
    _record_answer(delivery, attempt, answer)


def _truncate(text: str) -> str:
    return text[: settings.AUDIT_RESPONSE_MAX_CHARS]


def _record_failure(delivery: Delivery, attempt: DeliveryAttempt, error: braze.BrazeError) -> None:
    logger.warning("Braze call failed for delivery %s: %s", delivery.pk, error)
    answer = error.answer
    attempt.outcome = AttemptOutcome.FAILED
    attempt.error = str(error)
    attempt.response_status = answer.status if answer else None
    attempt.response_body = _truncate(answer.text) if answer else ""
    attempt.duration_ms = answer.duration_ms if answer else None
    attempt.save(
        update_fields=["outcome", "error", "response_status", "response_body", "duration_ms"]
    )
    delivery.status = DeliveryStatus.FAILED
    delivery.reason = str(error)
    delivery.save(update_fields=["status", "reason", "updated_at"])


def _record_answer(delivery: Delivery, attempt: DeliveryAttempt, answer: braze.BrazeAnswer) -> None:
    # One conversation is one object per array, so any error entry means this record was refused.
    rejected = answer.errors
    attempt.outcome = AttemptOutcome.PARTIAL if rejected else AttemptOutcome.SUCCESS
    attempt.response_status = answer.status
    attempt.response_body = _truncate(answer.text)
    attempt.duration_ms = answer.duration_ms
    attempt.error = "; ".join(str(item.get("type", item)) for item in rejected)
    attempt.save(
        update_fields=["outcome", "response_status", "response_body", "duration_ms", "error"]
    )
    delivery.status = DeliveryStatus.FAILED if rejected else DeliveryStatus.DELIVERED
    delivery.reason = f"Braze rejected the record: {attempt.error}" if rejected else ""
    delivery.save(update_fields=["status", "reason", "updated_at"])
