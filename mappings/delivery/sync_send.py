"""Sync mode's send: the delivery an ingest request has just written, sent from that request.

The same rules as a worker's send (mappings/delivery/dispatch.py), on a shorter path for one
delivery whose row is in hand: the environment's gate and the rate limit are asked before the
claim, so leasing the row, counting its try and writing the try's stamped attempt row are one
commit, committed before the call; the answer is recorded by dispatch's own code, in its own
commit, filtered on the lease; nothing in hand is read back. Three statements and two commits
where claiming it as a worker does, then reading back what was claimed, took ten and three.
"""

import time
import uuid
from dataclasses import dataclass

from django.db import transaction

from mappings.delivery import dispatch, outbox, payloads
from mappings.delivery.batching import Item, pack
from mappings.models import Delivery, DeliveryAttempt, Environment
from mappings.models.audit import AttemptOutcome


@dataclass(frozen=True)
class SentNow:
    """What ``send_now`` did. ``due`` is False when an older delivery of the same user is still
    open, so this one was not sent (it must reach Braze after that one). ``attempt`` is its
    attempt row as written when Braze took it whole and it is recorded delivered; None means
    the outcome, whatever it is, is in the database."""

    due: bool
    attempt: DeliveryAttempt | None = None


def send_now(delivery: Delivery, *, dedup_attributes: bool, deadline: float) -> SentNow:
    """Sync mode: send the delivery this request has just written, within ``deadline``.

    A rate-limit slot taken for a delivery that then proves not due is spent for nothing,
    which only makes the limit stricter.
    """
    environment = Environment.objects.select_related("credential").get(pk=delivery.environment_id)
    claim = _fresh_claim(delivery, dedup_attributes, deadline)
    try:
        dispatch.wait_for_slot(environment.pk, claim)
    except dispatch.EnvironmentMustWait:
        return SentNow(due=True)  # left due as written: a worker sends it once it may
    if time.monotonic() >= deadline:
        return SentNow(due=True)
    stamp = dispatch.request_stamp(1)
    with transaction.atomic():
        if not outbox.lease_fresh(delivery, claim.token):
            return SentNow(due=False)
        dispatch.insert_attempt_rows(environment, claim, [delivery.pk], stamp)
    batch = pack([Item(delivery.pk, claim.attempts[delivery.pk].request_body)], limit=1)[0]
    try:
        answer, delivered = dispatch.call_and_record(environment, claim, batch)
    except dispatch.EnvironmentMustWait:  # recorded: retried, or parked on a credential problem
        return SentNow(due=True)
    if not delivered:
        return SentNow(due=True)
    return SentNow(due=True, attempt=_attempt_as_written(claim, delivery.pk, stamp, answer))


def _fresh_claim(delivery: Delivery, dedup_attributes: bool, deadline: float) -> dispatch.Claim:
    """The claim ``send_now`` makes, from the row in hand, its try counted as ``lease_fresh``
    counts it."""
    number = delivery.attempt_count + 1
    leased = outbox.LeasedDelivery(
        delivery.pk, delivery.created_at, delivery.environment_id, delivery.mapping_set_id,
        delivery.external_id, number, dedup_attributes,
    )  # fmt: skip
    body = payloads.outgoing_payload(delivery)
    attempt = dispatch.Attempt(None, number, body, stored_body=not delivery.skipped_attributes)
    return dispatch.Claim(
        uuid.uuid4(), {delivery.pk: leased}, {delivery.pk: attempt}, deadline, time.monotonic()
    )


def _attempt_as_written(claim: dispatch.Claim, key, stamp: dict, answer) -> DeliveryAttempt:
    """The attempt row as dispatch wrote it and recorded Braze's 2xx on it: what the sync
    answer shows, without reading it back."""
    attempt = claim.attempts[key]
    return DeliveryAttempt(
        pk=attempt.pk,
        delivery_id=key,
        attempt_number=attempt.attempt_number,
        request_body=attempt.request_body,
        created_at=stamp["sent_at"],
        outcome=AttemptOutcome.SUCCESS,
        **stamp,
        **dispatch.answer_fields(answer),
    )
