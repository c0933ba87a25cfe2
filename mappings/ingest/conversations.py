"""Ingest: accept a conversation into the outbox, then deliver it now (sync) or later (async).

An accepted ingest is written, with its mapped Braze body, as one Delivery row (one INSERT, so
one round trip) before any Braze call; the API answers only after that commit. From there the
Delivery row is the record of truth (mappings/delivery/outbox.py); workers send it
(mappings/delivery/dispatch.py), in batches for async mode, writing one attempt row per try
just before the request. Sync mode sends it from the request itself within
``DELIVERY_SYNC_BUDGET_SECONDS`` and answers ``queued`` when Braze cannot take it in time.

Idempotency (``Idempotency-Key``): the first answer is stored on the delivery and returned for
a repeat within ``DELIVERY_IDEMPOTENCY_TTL_SECONDS``; a unique constraint per client and key
makes concurrent repeats collide, so only one reaches Braze. A request that fails validation
stores nothing for its key.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.utils import timezone

from mappings.delivery import dispatch, outbox, sync_send, worker
from mappings.engine.mapping import MappingResult, compiled_for
from mappings.ingest import discovery
from mappings.models import ApiClient, DeliveredAttributes, Delivery, DeliveryAttempt, MappingSet
from mappings.models.audit import DeliveryStatus

MODES = ("sync", "async")
_POLL_SECONDS = 0.02


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


@dataclass(frozen=True)
class IngestResult:
    delivery: Delivery
    mapping: MappingResult | None
    attempt: DeliveryAttempt | None = None
    mode: str = "sync"
    stored_answer: tuple[dict[str, Any], int] | None = None  # a repeat of an Idempotency-Key


def ingest(
    mapping_set: MappingSet,
    api_client: ApiClient | None,
    conversation: Any,
    *,
    mode: str | None = None,
    idempotency_key: str = "",
    arrived_at: float | None = None,
) -> IngestResult:
    """Map one conversation, store it in the outbox, and deliver it per the mode.

    In sync mode the answer is due ``sync_budget(mapping_set)`` seconds after ``arrived_at``
    (``time.monotonic()``; now when not given): the Braze request and any wait are cut to what
    is left of it.
    """
    deadline = (arrived_at or time.monotonic()) + sync_budget(mapping_set)
    mode = mode or mapping_set.delivery_mode
    # Only a repeat of a key is compared with it: without a key there is nothing to compare.
    fingerprint = _fingerprint(mapping_set, conversation) if idempotency_key else ""
    if idempotency_key:
        earlier = _earlier_delivery_with_key(api_client, idempotency_key)
        if earlier is not None:
            return _answer_repeated_key(earlier, fingerprint, mode)
    mapping = compiled_for(mapping_set).run(conversation)
    discovery.record(mapping_set, conversation)
    if not mapping.ok:
        return IngestResult(
            _record_rejection(mapping_set, api_client, conversation, mapping), mapping, mode=mode
        )
    try:
        delivery = _record_accepted(
            mapping_set, api_client, conversation, mapping, idempotency_key, fingerprint, mode
        )
    except IntegrityError:  # a concurrent request with the same key committed first
        earlier = _earlier_delivery_with_key(api_client, idempotency_key)
        if earlier is None:
            raise
        return _answer_repeated_key(earlier, fingerprint, mode)
    if mode == "sync" and delivery.status == DeliveryStatus.PENDING:
        attempt = _deliver_within_budget(delivery, mapping_set, deadline)
        return IngestResult(delivery, mapping, attempt, mode=mode)
    # Async answers with the state as committed: a worker may already be sending it.
    return IngestResult(delivery, mapping, mode=mode)


def remember_answer(delivery: Delivery, body: dict[str, Any], status: int) -> None:
    """Keep the answer given, so a repeat of the same Idempotency-Key gets it back."""
    text = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)
    Delivery.objects.filter(pk=delivery.pk).update(answer_body=text, answer_status=status)


def _fingerprint(mapping_set: MappingSet, conversation: Any) -> str:
    canonical = json.dumps(
        [mapping_set.slug, conversation], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _earlier_delivery_with_key(api_client: ApiClient | None, key: str) -> Delivery | None:
    """The client's delivery that used this Idempotency-Key within the window, if any."""
    if api_client is None:
        return None
    # One query in the usual case: a client's key is on at most one row (a unique constraint).
    earlier = Delivery.objects.filter(api_client=api_client, idempotency_key=key).first()
    cutoff = timezone.now() - timedelta(seconds=settings.DELIVERY_IDEMPOTENCY_TTL_SECONDS)
    if earlier is None or earlier.created_at >= cutoff:
        return earlier
    # Past the window a key is free again: the old row keeps its audit data, not the key.
    Delivery.objects.filter(pk=earlier.pk, created_at__lt=cutoff).update(idempotency_key="")
    return None


def _answer_repeated_key(earlier: Delivery, fingerprint: str, mode: str) -> IngestResult:
    """The first request's stored answer for a repeat of its key; a different body conflicts."""
    if earlier.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body or mapping set"
        )
    # The first request may still be answering (a concurrent repeat): wait for its answer.
    deadline = time.monotonic() + settings.DELIVERY_SYNC_BUDGET_SECONDS
    while not earlier.answer_body and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        earlier.refresh_from_db()
    answer = (
        (json.loads(earlier.answer_body), earlier.answer_status) if earlier.answer_body else None
    )
    return IngestResult(earlier, None, earlier.attempts.first(), mode=mode, stored_answer=answer)


def _record_rejection(
    mapping_set: MappingSet, api_client: ApiClient | None, conversation: Any, mapping: MappingResult
) -> Delivery:
    rejected = Delivery(
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
    return outbox.add(rejected)


def unchanged_attributes(mapping_set: MappingSet, mapping: MappingResult) -> list[str]:
    """Attributes whose value was already delivered for this user (opt-in per mapping set)."""
    if not mapping_set.dedup_unchanged_attributes or not mapping.external_id:
        return []
    state = DeliveredAttributes.objects.filter(
        environment_id=mapping_set.environment_id, external_id=mapping.external_id
    ).first()
    if state is None:
        return []
    skipped = []
    for obj in mapping.payload.get("attributes") or []:
        for name, value in obj.items():
            if name in dispatch.IDENTIFIER_KEYS or isinstance(value, dict):
                continue  # operations like {"inc": 1} are never "unchanged"
            if state.values.get(name) == dispatch.value_digest(value):
                skipped.append(name)
    return skipped


def _record_accepted(
    mapping_set: MappingSet,
    api_client: ApiClient | None,
    conversation: Any,
    mapping: MappingResult,
    idempotency_key: str,
    fingerprint: str,
    mode: str,
) -> Delivery:
    """One INSERT in autocommit: a single statement is atomic on its own, and a transaction
    around it would add two round trips to every ingest."""
    environment = mapping_set.environment
    skipped = unchanged_attributes(mapping_set, mapping)
    delivery = Delivery(
        mapping_set=mapping_set,
        environment=environment,
        api_client=api_client,
        external_id=mapping.external_id or "",
        received_payload=conversation,
        braze_payload=mapping.payload,
        mapping_version=mapping_set.version,
        # With the drop_field policy the record is sent without its unusable fields; why is here.
        problems=[problem.as_dict() for problem in mapping.problems],
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        skipped_attributes=skipped,
        next_attempt_at=timezone.now(),
    )
    outgoing = dispatch.outgoing_payload(delivery)
    if not dispatch.has_objects(outgoing):
        delivery.status = DeliveryStatus.DELIVERED
        delivery.next_attempt_at = None
        delivery.reason = "Nothing to send: every attribute is unchanged since last delivered"
        return outbox.add(delivery)
    delivery = outbox.add(delivery)
    if mode == "async":
        worker.notify(environment.pk)
    return delivery


def _latest_attempt(delivery: Delivery) -> DeliveryAttempt | None:
    return delivery.attempts.order_by("-attempt_number").first()


def sync_budget(mapping_set: MappingSet) -> float:
    """Seconds from a sync request's arrival to its answer."""
    return mapping_set.sync_budget_seconds or settings.DELIVERY_SYNC_BUDGET_SECONDS


def _deliver_within_budget(
    delivery: Delivery, mapping_set: MappingSet, deadline: float
) -> DeliveryAttempt | None:
    """Send it from this request if it is due; otherwise leave it to a worker, waiting until the
    deadline at most. Returns its latest attempt, and leaves ``delivery`` as it now stands."""
    dedup = mapping_set.dedup_unchanged_attributes
    sent = sync_send.send_now(delivery, dedup_attributes=dedup, deadline=deadline)
    if sent.attempt is not None:  # delivered: the outcome is in hand, nothing to read back
        delivery.status, delivery.reason = DeliveryStatus.DELIVERED, ""
        delivery.attempt_count, delivery.next_attempt_at = sent.attempt.attempt_number, None
        return sent.attempt
    if not sent.due:
        _wait_for_older(delivery, deadline)
    delivery.refresh_from_db()
    return _latest_attempt(delivery)


def _wait_for_older(delivery: Delivery, deadline: float) -> None:
    """Not this request's to send: an older delivery of the same user is still open (it must
    reach Braze first) or a worker took it first. A worker sends it; wait for its outcome until
    the deadline at most."""
    worker.notify(delivery.environment_id)
    while time.monotonic() < deadline:
        status = Delivery.objects.filter(pk=delivery.pk).values_list("status", flat=True).get()
        if status not in (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT):
            return
        time.sleep(_POLL_SECONDS)
