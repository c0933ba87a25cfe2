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
stores nothing for its key. A platform route keys a request by the platform's own turn id when
the caller sent no key (``Turn``): one turn, one delivery.
"""

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from mappings.delivery import dispatch, metrics, outbox, sync_send, worker
from mappings.engine.data_points import data_points
from mappings.engine.mapping import MappingResult, compiled_for
from mappings.ingest import discovery
from mappings.models import ApiClient, DeliveredAttributes, Delivery, DeliveryAttempt, MappingSet
from mappings.models.audit import DeliveryStatus

MODES = ("sync", "async")
_POLL_SECONDS = 0.02


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


TURN_KEY_PREFIX = "turn:"


def turn_key(platform: str, turn_id: str) -> str:
    """The idempotency key of a platform's turn: its own namespace, apart from callers' keys."""
    return f"{TURN_KEY_PREFIX}{platform}:{turn_id}"


def is_turn_key(key: str) -> bool:
    return key.startswith(TURN_KEY_PREFIX)


@dataclass(frozen=True)
class IngestResult:
    delivery: Delivery
    mapping: MappingResult | None
    attempt: DeliveryAttempt | None = None
    mode: str = "sync"
    stored_answer: tuple[dict[str, Any], int] | None = None  # a repeat of an Idempotency-Key
    answer_kept: bool = False  # this answer was stored with the row (see ``answer_for``)


class _KeyTaken(Exception):
    def __init__(self, earlier: Delivery):
        super().__init__("idempotency key already used")
        self.earlier = earlier


def ingest(
    mapping_set: MappingSet,
    api_client: ApiClient | None,
    conversation: Any,
    *,
    mode: str | None = None,
    idempotency_key: str = "",
    arrived_at: float | None = None,
    platform: str = "",
    budget_ceiling: float | None = None,
    answer_for: Callable[[IngestResult], tuple[dict[str, Any], int]] | None = None,
) -> IngestResult:
    """Map one conversation, store it in the outbox, and deliver it per the mode.

    ``answer_for`` is how the caller answers a result: with an idempotency key, an answer known
    before the INSERT (async mode, or nothing to send) is stored with the row, so a repeat gets
    it back with no second write (``IngestResult.answer_kept``).

    In sync mode the answer is due ``sync_budget(mapping_set, budget_ceiling)`` seconds after
    ``arrived_at`` (``time.monotonic()``; now when not given): the Braze request and any wait
    are cut to what is left of it. ``platform`` names the platform route that called (logged on
    the delivery); its adapter's budget is the ceiling.

    Each call is counted for /metrics by its outcome: the delivery's status as answered, or
    ``repeat`` / ``conflict`` for a reused Idempotency-Key.
    """
    try:
        result = _ingest(
            mapping_set, api_client, conversation, mode=mode, idempotency_key=idempotency_key,
            arrived_at=arrived_at, platform=platform, budget_ceiling=budget_ceiling,
            answer_for=answer_for,
        )  # fmt: skip
    except IdempotencyConflict:
        metrics.count_ingest(mapping_set.slug, platform, "conflict")
        raise
    outcome = "repeat" if result.mapping is None else result.delivery.status
    metrics.count_ingest(mapping_set.slug, platform, outcome)
    return result


def _ingest(
    mapping_set: MappingSet,
    api_client: ApiClient | None,
    conversation: Any,
    *,
    mode: str | None,
    idempotency_key: str,
    arrived_at: float | None,
    platform: str,
    budget_ceiling: float | None,
    answer_for: Callable[[IngestResult], tuple[dict[str, Any], int]] | None,
) -> IngestResult:
    deadline = (arrived_at or time.monotonic()) + sync_budget(mapping_set, budget_ceiling)
    mode = mode or mapping_set.delivery_mode
    # Only a repeat of a key is compared with it: without a key there is nothing to compare.
    fingerprint = _fingerprint(mapping_set, conversation) if idempotency_key else ""
    mapping = compiled_for(mapping_set).run(conversation)
    discovery.record(mapping_set, conversation)
    if not mapping.ok:
        # A repeat is answered as the first time was, even if its body no longer maps.
        earlier = idempotency_key and _earlier_delivery_with_key(api_client, idempotency_key)
        if earlier:
            return _answer_repeated_key(earlier, idempotency_key, fingerprint, mode, deadline)
        rejected = _record_rejection(mapping_set, api_client, conversation, mapping, platform)
        return IngestResult(rejected, mapping, mode=mode)
    accepted = Delivery(
        mapping_set=mapping_set,
        api_client=api_client,
        received_payload=conversation,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        platform=platform,
    )
    try:
        delivery = _record_first_use(accepted, mapping, mode, answer_for)
    except _KeyTaken as taken:
        return _answer_repeated_key(taken.earlier, idempotency_key, fingerprint, mode, deadline)
    if mode == "sync" and delivery.status == DeliveryStatus.PENDING:
        attempt = _deliver_within_budget(delivery, mapping_set, deadline)
        return IngestResult(delivery, mapping, attempt, mode=mode)
    # Async answers with the state as committed: a worker may already be sending it.
    return IngestResult(delivery, mapping, mode=mode, answer_kept=bool(delivery.answer_body))


def _record_first_use(
    accepted: Delivery, mapping: MappingResult, mode: str, answer_for
) -> Delivery:
    """Insert, and let the unique (client, key) constraint tell a repeat: the first use of a key,
    the usual case, then costs no look-up. Raises ``_KeyTaken`` with the row holding the key.

    A key held by a row past its window is freed by that look-up, and this request takes it.
    """
    for _ in range(2):
        try:
            return _insert_keyed(accepted, mapping, mode, answer_for)
        except IntegrityError:  # the key is held: by a repeat, a concurrent request or old row
            earlier = _earlier_delivery_with_key(accepted.api_client, accepted.idempotency_key)
            if earlier is not None:
                raise _KeyTaken(earlier) from None
    raise IntegrityError(f"Idempotency-Key {accepted.idempotency_key!r} could not be taken")


def _insert_keyed(accepted: Delivery, mapping: MappingResult, mode: str, answer_for) -> Delivery:
    if not accepted.idempotency_key:
        return _record_accepted(accepted, mapping, mode, answer_for)
    # A duplicate key must leave a caller's transaction usable (PostgreSQL aborts it), so inside
    # one the INSERT gets a savepoint; an API request runs in autocommit, where a failed
    # statement leaves nothing behind and the savepoint's round trips are not spent.
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        return _record_accepted(accepted, mapping, mode, answer_for)


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


def _answer_repeated_key(
    earlier: Delivery, key: str, fingerprint: str, mode: str, deadline: float
) -> IngestResult:
    """The first request's stored answer for a repeat of its key.

    A caller's key sent again with a different body conflicts. A platform's turn id does not:
    that turn was delivered once, and a platform resending it (a retry, or one user message
    running the same action again) gets the first answer rather than an error its flow would
    take as a failure.
    """
    if earlier.request_fingerprint != fingerprint and not is_turn_key(key):
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body or mapping set"
        )
    # The first request may still be answering (a concurrent repeat): wait for its answer,
    # within this request's own budget.
    while not earlier.answer_body and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        earlier.refresh_from_db()
    answer = (
        (json.loads(earlier.answer_body), earlier.answer_status) if earlier.answer_body else None
    )
    return IngestResult(earlier, None, earlier.attempts.first(), mode=mode, stored_answer=answer)


def _record_rejection(
    mapping_set: MappingSet,
    api_client: ApiClient | None,
    conversation: Any,
    mapping: MappingResult,
    platform: str,
) -> Delivery:
    rejected = Delivery(
        mapping_set=mapping_set,
        environment=mapping_set.environment,
        api_client=api_client,
        platform=platform,
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


def _answer_is_known(delivery: Delivery, mode: str) -> bool:
    return mode == "async" or delivery.status == DeliveryStatus.DELIVERED


def _keep_answer(delivery: Delivery, answer: tuple[dict[str, Any], int]) -> None:
    body, status = answer
    delivery.answer_body = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)
    delivery.answer_status = status


def _record_accepted(delivery: Delivery, mapping: MappingResult, mode: str, answer_for) -> Delivery:
    """One INSERT in autocommit: a single statement is atomic on its own, and a transaction
    around it would add two round trips to every ingest.

    ``delivery`` comes with who sent what (set, client, conversation, key, platform); the
    mapping's result and the outbox state are filled in here.
    """
    mapping_set = delivery.mapping_set
    environment = mapping_set.environment
    delivery.environment = environment
    delivery.external_id = mapping.external_id or ""
    delivery.braze_payload = mapping.payload
    delivery.mapping_version = mapping_set.version
    # With the drop_field policy the record is sent without its unusable fields; why is here.
    delivery.problems = [problem.as_dict() for problem in mapping.problems]
    delivery.skipped_attributes = unchanged_attributes(mapping_set, mapping)
    delivery.next_attempt_at = timezone.now()
    outgoing = dispatch.outgoing_payload(delivery)
    delivery.data_points = data_points(outgoing)
    if delivery.skipped_attributes:  # else the body sent is the whole mapped body
        delivery.data_points_saved = data_points(mapping.payload) - delivery.data_points
    if not dispatch.has_objects(outgoing):
        delivery.status = DeliveryStatus.DELIVERED
        delivery.next_attempt_at = None
        delivery.reason = "Nothing to send: every attribute is unchanged since last delivered"
    if answer_for and delivery.idempotency_key and _answer_is_known(delivery, mode):
        _keep_answer(delivery, answer_for(IngestResult(delivery, mapping, mode=mode)))
    delivery = outbox.add(delivery)
    if mode == "async" and delivery.status == DeliveryStatus.PENDING:
        worker.notify(environment.pk)
    return delivery


def _latest_attempt(delivery: Delivery) -> DeliveryAttempt | None:
    return delivery.attempts.order_by("-attempt_number").first()


def sync_budget(mapping_set: MappingSet, ceiling: float | None = None) -> float:
    """Seconds from a sync request's arrival to its answer.

    The mapping set's own budget, else ``DELIVERY_SYNC_BUDGET_SECONDS``. A platform route passes
    its adapter's budget as ``ceiling``: it replaces the setting (which is for the generic API)
    and caps the set's own, so no admin setting makes a bot wait past its platform's deadline.
    """
    own = mapping_set.sync_budget_seconds
    if ceiling is None:
        return own or settings.DELIVERY_SYNC_BUDGET_SECONDS
    return min(own, ceiling) if own else ceiling


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
