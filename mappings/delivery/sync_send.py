"""Sync mode's send: the delivery an ingest request has just written, sent from that request.

The same rules as a worker's send (mappings/delivery/dispatch.py), on a shorter path for one
delivery whose row is in hand: one read of the environment, its key and its gate; the gate and
the rate limit are asked before the claim, so leasing the row, counting its try and writing the
try's stamped attempt row are one commit, before the call; Braze's answer is recorded in its own
commit, only while the lease is ours; nothing in hand is read back. On PostgreSQL each of the
two writes is one statement (sync_rows.py), so from the outbox INSERT on a sync ingest sends 4
statements (it sent 20, in 3 transactions, when it claimed as a worker claims and read back
what it had claimed); on SQLite they are ORM writes in a transaction each.

A row a worker took first (the embedded worker's sweep may claim it between its INSERT and
this lease) is no longer as written, so the lease is refused and the worker alone sends it.
"""

import time
import uuid
from dataclasses import dataclass

from django.db import transaction

from mappings.delivery import braze, dispatch, outbox, payloads, sync_rows
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
    # One read for the environment, its key and its gate.
    environment = Environment.objects.select_related("credential", "delivery_gate").get(
        pk=delivery.environment_id
    )
    gate = outbox.gate_state_of(getattr(environment, "delivery_gate", None))  # None: no row yet
    claim = _fresh_claim(delivery, dedup_attributes, deadline)
    try:
        dispatch.wait_for_slot(environment.pk, claim, gate)
    except dispatch.EnvironmentMustWait:
        return SentNow(due=True)  # left due as written: a worker sends it once it may
    if time.monotonic() >= deadline:
        return SentNow(due=True)
    stamp = dispatch.request_stamp(1)
    if not _lease_and_stamp(environment, claim, delivery, stamp):
        return SentNow(due=False)
    batch = pack([Item(delivery.pk, claim.attempts[delivery.pk].request_body)], limit=1)[0]
    try:
        answer, delivered = dispatch.call_and_record(
            environment, claim, batch, record=_record_answer
        )
    except dispatch.EnvironmentMustWait:  # recorded: retried, or parked on a credential problem
        return SentNow(due=True)
    if not delivered:
        return SentNow(due=True)
    return SentNow(due=True, attempt=_attempt_as_written(claim, delivery.pk, stamp, answer))


def _lease_and_stamp(environment, claim: dispatch.Claim, delivery: Delivery, stamp: dict) -> bool:
    """Lease the row as written and count its try, with its stamped attempt row, in one commit;
    False (nothing written) when it is no longer as written or not due."""
    attempt = claim.attempts[delivery.pk]
    if sync_rows.supported():
        attempt.pk = sync_rows.lease_and_stamp(
            delivery,
            token=claim.token,
            lease_expires_at=outbox.lease_expiry(stamp["sent_at"]),
            now=stamp["sent_at"],
            request_body=attempt.request_body,
            url=environment.users_track_url,
            batch_id=stamp["batch_id"],
        )
        return attempt.pk is not None
    with transaction.atomic():
        if not outbox.lease_fresh(delivery, claim.token):
            return False
        dispatch.insert_attempt_rows(environment, claim, [delivery.pk], stamp)
    return True


def _record_answer(environment, claim: dispatch.Claim, batch, answer: braze.BrazeAnswer) -> int:
    """A 2xx for the one delivery: in one statement when it took the record whole and nothing
    else is to be written (no failures to reset, no attributes to remember), else dispatch's
    recording in one transaction."""
    key = batch.keys[0]
    plain = not answer.errors and not claim.gate_failures
    if sync_rows.supported() and plain and not claim.deliveries[key].dedup_attributes:
        written = sync_rows.record_delivered(
            key, claim.attempts[key].pk, token=claim.token, **dispatch.answer_fields(answer)
        )
        dispatch.written_to(environment.pk, [claim.deliveries[key].external_id])
        return int(written)
    with transaction.atomic():
        return dispatch.record_answer(environment, claim, batch, answer)


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
