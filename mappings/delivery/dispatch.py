"""Sending leased deliveries: pack them into requests, call Braze, record each record's outcome.

One attempt row per delivery per request, written (with ``sent_at`` and the shared ``batch_id``)
before the call and completed after it. A first try or a retry inserts its row already stamped,
in the same commit as its delivery's ``attempt_count``; only a replay's row, written when an
admin asks for it, is stamped by an update. Every write filters on the claim's lease token, so
a worker whose lease was taken back writes nothing (and sends nothing more). Writes are per
request, never per row: a commit for the stamp before the call and one for the answer right
after it. Outcomes, by Braze's answer:
- 2xx: delivered, except the objects named in ``errors`` (their deliveries fail, alone);
- 429: wait as the rate-limit headers say (the whole environment waits), then retry;
- 5xx, timeouts, connection errors: the environment is held for the short probe interval and
  then probed (recovery.py); each delivery backs off exponentially with jitter, then ``dead``;
- 401/403/404 (or no usable key): a credential problem: those deliveries fail, the environment
  is paused (its other deliveries wait, parked) until its key or endpoint is saved again;
- other 4xx: failed with Braze's message, never retried.
"""

import logging
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mappings import profile_cache
from mappings.delivery import attempt_rows, braze, metrics, outbox, rate_limit, recovery
from mappings.delivery.batching import Batch, Item, errors_by_key, pack

# Re-exported (the redundant aliases): ingest and replays call these as ``dispatch.*``.
from mappings.delivery.payloads import IDENTIFIER_KEYS as IDENTIFIER_KEYS
from mappings.delivery.payloads import has_objects as has_objects
from mappings.delivery.payloads import outgoing_payload as outgoing_payload
from mappings.delivery.payloads import trimmed_payload
from mappings.delivery.payloads import value_digest as value_digest
from mappings.delivery.retry_policy import gives_up
from mappings.encryption import SecretDecryptionError
from mappings.models import (
    BrazeCredential,
    DeliveredAttributes,
    Delivery,
    DeliveryAttempt,
    Environment,
)
from mappings.models.audit import AttemptOutcome, DeliveryStatus

logger = logging.getLogger(__name__)

CREDENTIAL_STATUSES = (401, 403, 404)
# A worker sleeps through short waits (rate-limit window, short 429); longer ones go back to
# the queue so the worker can serve other environments.
MAX_INLINE_WAIT_SECONDS = 1.0


class EnvironmentMustWait(Exception):
    """The environment cannot take more requests before ``until`` (rate limit, a 429, a paused
    key, or the sync budget): give the rest of the claim back, due then."""

    def __init__(self, until: datetime):
        self.until = until


class _LeaseLost(Exception):
    """Some of the claim's deliveries are no longer ours: send nothing more for it."""


@dataclass(slots=True)
class Attempt:
    """The try of a delivery in this claim: what is sent and where its outcome goes."""

    pk: int | None  # None until its row is written, stamped, just before the request
    attempt_number: int
    request_body: dict
    # A new try whose body is its delivery's stored braze_payload as it is (no attribute
    # skipped as unchanged): its row is copied from the delivery row (attempt_rows.py).
    stored_body: bool = False


@dataclass
class Claim:
    token: uuid.UUID
    deliveries: dict[Hashable, outbox.LeasedDelivery]
    attempts: dict[Hashable, Attempt]
    deadline: float | None  # time.monotonic() limit (sync mode)
    renewed_at: float = 0.0
    # The environment's consecutive failures as last read from its gate (0: nothing to reset).
    gate_failures: int = 0

    def keep_lease(self) -> None:
        """Extend the lease once a third of it has passed (not per request: it costs a write)."""
        if time.monotonic() - self.renewed_at > settings.DELIVERY_LEASE_SECONDS / 3:
            outbox.renew(self.token)
            self.renewed_at = time.monotonic()


def send_claimed(
    token: uuid.UUID, deliveries: list[outbox.LeasedDelivery], *, deadline: float | None = None
) -> None:
    """Send leased deliveries (all of one environment) to Braze, in order, in packed requests."""
    if not deliveries:
        return
    # One read for the whole claim: the environment with its credential.
    environment = Environment.objects.select_related("credential").get(
        pk=deliveries[0].environment_id
    )
    claim = Claim(
        token,
        {d.pk: d for d in deliveries},
        _prepare_attempts(deliveries),
        deadline=deadline,
        renewed_at=time.monotonic(),
    )
    items = [Item(pk, claim.attempts[pk].request_body) for pk in claim.deliveries]
    batches = pack(
        items,
        limit=settings.DELIVERY_BATCH_MAX_OBJECTS,
        mode=settings.DELIVERY_BATCH_LIMIT_MODE,
    )
    _send_batches(environment, claim, batches)


def _send_batches(environment, claim: Claim, batches: list[Batch]) -> None:
    for position, batch in enumerate(batches):
        if claim.deadline is not None and time.monotonic() >= claim.deadline:
            # The caller's time is up before this request could start: a worker sends the rest.
            rest = [key for later in batches[position:] for key in later.keys]
            _give_back_unsent(claim, rest, timezone.now())
            return
        try:
            wait_for_slot(environment.pk, claim)
            _send_batch(environment, claim, batch)
        except EnvironmentMustWait as wait:
            rest = [key for later in batches[position:] for key in later.keys]
            _give_back_unsent(claim, rest, wait.until)
            return
        except _LeaseLost:
            # The sweep took (some of) these back, so another worker may send them: stop.
            logger.warning(
                "Lease %s lost mid-claim; leaving its deliveries to the sweep", claim.token
            )
            return


def _prepare_attempts(deliveries: list[outbox.LeasedDelivery]) -> dict[Hashable, Attempt]:
    """What each delivery's try sends: a replay's unsent row, else a new try of its stored body.

    New tries get their row only when their request goes (``_mark_sent``): one INSERT with the
    stamp, where writing it now and stamping it later would write every index of the table twice.
    """
    rows = DeliveryAttempt.objects.filter(
        delivery_id__in=[d.pk for d in deliveries],
        sent_at__isnull=True,
        outcome=AttemptOutcome.PENDING,
    ).values_list("delivery_id", "pk", "attempt_number", "request_body")
    attempts = {delivery_id: Attempt(*rest) for delivery_id, *rest in rows}
    missing = [d for d in deliveries if d.pk not in attempts]
    if not missing:
        return attempts
    # Plain values, not model instances: only three columns are needed, and building a model
    # instance per delivery of a claim would outweigh the rest of this function.
    stored = Delivery.objects.filter(pk__in=[d.pk for d in missing]).values_list(
        "pk", "braze_payload", "skipped_attributes"
    )
    by_pk = {d.pk: d for d in missing}
    for pk, payload, skipped in stored:
        attempt_number = by_pk[pk].attempt_count + 1
        body = trimmed_payload(payload, skipped)
        attempts[pk] = Attempt(None, attempt_number, body, stored_body=not skipped)
    return attempts


def wait_for_slot(environment_id: int, claim: Claim, gate_state=None) -> None:
    """Return when a request may go now; raise EnvironmentMustWait when it must wait longer
    (or the environment is paused). ``gate_state``: the gate as just read, for the first look."""
    deadline = claim.deadline
    while True:
        state, gate_state = gate_state or outbox.gate_state(environment_id), None
        wait, claim.gate_failures = state
        if wait is None:  # paused on a credential problem: park until the key is fixed
            raise EnvironmentMustWait(timezone.now())
        if not wait:
            wait = rate_limit.acquire(environment_id)
        if not wait:
            return
        late = deadline is not None and time.monotonic() + wait > deadline
        if late or wait > MAX_INLINE_WAIT_SECONDS:
            raise EnvironmentMustWait(timezone.now() + timedelta(seconds=wait))
        time.sleep(wait)


def _give_back_unsent(claim: Claim, keys: list[Hashable], until: datetime) -> None:
    """Release deliveries this claim did not send, due again at ``until``; a retry stays a retry."""
    retried = [k for k in keys if claim.attempts[k].attempt_number > 1]
    fresh = [k for k in keys if k not in retried]
    outbox.release(claim.token, retried, next_attempt_at=until, status=DeliveryStatus.RETRYING)
    outbox.release(claim.token, fresh, next_attempt_at=until, status=DeliveryStatus.PENDING)


def _api_key(environment) -> str:
    try:
        return environment.credential.api_key()
    except BrazeCredential.DoesNotExist as error:
        raise braze.BrazeError(
            f"Environment '{environment}' has no Braze API key configured", permanent=True
        ) from error
    except SecretDecryptionError as error:
        raise braze.BrazeError(str(error), permanent=True) from error


def _send_batch(environment, claim: Claim, batch: Batch) -> None:
    # Committed before the call, and only while the lease is still ours; when it is not, the
    # rollback leaves no trace of a send (nor an "ambiguous" flag for the sweep to set).
    with transaction.atomic():
        _mark_sent(environment, claim, batch.keys)
    call_and_record(environment, claim, batch)


def call_and_record(
    environment, claim: Claim, batch: Batch, *, record=None
) -> tuple[braze.BrazeAnswer | None, int]:
    """Send a request whose attempt rows are committed, and record Braze's answer; returns the
    answer and how many of its deliveries this claim recorded as delivered. ``record`` takes
    the place of ``record_answer`` for a 2xx, and commits its own writes."""
    claim.keep_lease()
    try:
        api_key = _api_key(environment)
        answer = braze.track_users(
            environment.rest_endpoint,
            api_key,
            batch.body,
            deadline=claim.deadline,
        )
    except braze.BrazeError as error:
        metrics.count_braze_request(error.status, error.no_answer, error.duration_ms)
        with transaction.atomic():  # one commit for the outcome of the whole request
            wait_until = _record_error(environment, claim, batch, error)
        if wait_until is not None:
            raise EnvironmentMustWait(wait_until) from error
        return error.answer, 0
    metrics.count_braze_request(answer.status, None, answer.duration_ms)
    if record is not None:
        return answer, record(environment, claim, batch, answer)
    # Recorded at once, in its own commit: deferring it to the next request's commit would save
    # a commit per request but let a worker killed in between send again records Braze already
    # took. Committed now, a killed worker can duplicate at most the one request in flight.
    with transaction.atomic():
        return answer, record_answer(environment, claim, batch, answer)


def _truncate(text: str) -> str:
    return text[: settings.AUDIT_RESPONSE_MAX_CHARS]


def _describe_errors(errors: list[dict]) -> str:
    return "; ".join(
        f"{err.get('input_array', '?')}[{err.get('index', '?')}]: {err.get('type', err)}"
        for err in errors
    )


def answer_fields(answer: braze.BrazeAnswer | None, duration_ms: int | None = None) -> dict:
    if answer is None:
        return {"response_status": None, "response_body": "", "duration_ms": duration_ms}
    return {
        "response_status": answer.status,
        "response_body": _truncate(answer.text),
        "duration_ms": answer.duration_ms,
    }


def _mark_sent(environment, claim: Claim, keys: list[Hashable]) -> None:
    """Mark these tries as sent in one request: stamp replays' rows, insert the others' rows.

    Raises _LeaseLost (inside the caller's transaction, so nothing stays) when the lease of any
    of them was taken back.
    """
    stamp = request_stamp(len(keys))
    written = [k for k in keys if claim.attempts[k].pk is not None]
    new = [k for k in keys if claim.attempts[k].pk is None]
    if written and _leased_attempt_rows(claim, written).update(**stamp) != len(written):
        raise _LeaseLost
    if not new:
        return
    # The UPDATE both checks the leases and holds them (row locks) until the commit, so the
    # sweep cannot take them back between this check and the INSERT.
    counted = Delivery.objects.filter(pk__in=new, lease_token=claim.token).update(
        attempt_count=F("attempt_count") + 1
    )
    if counted != len(new):
        raise _LeaseLost
    insert_attempt_rows(environment, claim, new, stamp)
    for key in new:
        claim.deliveries[key].attempt_count += 1


def request_stamp(batch_size: int) -> dict:
    """What every attempt row of one request shares."""
    return {"sent_at": timezone.now(), "batch_id": uuid.uuid4(), "batch_size": batch_size}


def insert_attempt_rows(environment, claim: Claim, keys: list[Hashable], stamp: dict) -> None:
    """The stamped rows of new tries, whose ``attempt_count`` the caller's transaction counted
    (and so holds locked): copied from the delivery row where the body is the stored one."""
    copied = [k for k in keys if claim.attempts[k].stored_body]
    ids = attempt_rows.insert_sent(
        copied, lease_token=claim.token, url=environment.users_track_url, **stamp
    )
    if len(ids) != len(copied):  # cannot happen while the count's UPDATE holds the rows
        raise _LeaseLost
    trimmed = [k for k in keys if not claim.attempts[k].stored_body]
    ids.update(_insert_trimmed(environment, claim, trimmed, stamp))
    for key in keys:
        claim.attempts[key].pk = ids[key]


def _insert_trimmed(environment, claim: Claim, keys: list[Hashable], stamp: dict) -> dict:
    """Rows whose body is not the stored one (unchanged attributes left out), from Python."""
    rows = DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=key,
            attempt_number=claim.attempts[key].attempt_number,
            environment_id=environment.pk,
            mapping_set_id=claim.deliveries[key].mapping_set_id,
            url=environment.users_track_url,
            request_body=claim.attempts[key].request_body,
            **stamp,
        )
        for key in keys
    )
    return {row.delivery_id: row.pk for row in rows}


def _leased_attempt_rows(claim: Claim, keys: list[Hashable]):
    """The attempt rows of these deliveries, as long as the claim still holds their lease (so
    attempts are written before ``_set_status_and_release`` releases their delivery)."""
    return DeliveryAttempt.objects.filter(
        pk__in=[claim.attempts[k].pk for k in keys], delivery__lease_token=claim.token
    )


def _set_status_and_release(
    claim: Claim, keys: list[Hashable], status: str, reason: str, **extra
) -> int:
    """Write the deliveries' outcome and end this claim's lease on them (only while it holds it);
    returns how many it wrote."""
    return Delivery.objects.filter(pk__in=keys, lease_token=claim.token).update(
        status=status, reason=reason, lease_token=None, lease_expires_at=None, **extra
    )


def record_answer(environment, claim: Claim, batch: Batch, answer: braze.BrazeAnswer) -> int:
    """Record a 2xx; returns how many deliveries it recorded as delivered."""
    rejected = errors_by_key(batch, answer.errors)
    accepted = [k for k in batch.keys if k not in rejected]
    _leased_attempt_rows(claim, accepted).update(
        outcome=AttemptOutcome.SUCCESS, error="", **answer_fields(answer)
    )
    delivered = _set_status_and_release(
        claim, accepted, DeliveryStatus.DELIVERED, "", next_attempt_at=None
    )
    for key, errors in rejected.items():
        _reject(claim, key, errors, answer)
    if claim.gate_failures:  # else a no-op write per request; a later success resets it
        outbox.record_success(environment.pk)
    _remember_attributes(environment.pk, [claim.deliveries[k] for k in accepted], claim)
    # Every user of the request: one whose object Braze refused may still have had others applied.
    written_to(environment.pk, [claim.deliveries[k].external_id for k in batch.keys])
    return delivered


def written_to(environment_id: int, external_ids: list[str]) -> None:
    """What follows a 2xx for these users, on every path that records one (here and sync mode's
    own statement): a lookup of them must read what was just written, not a cached profile."""
    profile_cache.forget(environment_id, external_ids)


def _reject(claim: Claim, key: Hashable, errors: list[dict], answer) -> None:
    attempt = claim.attempts[key]
    sent = sum(len(v) for k, v in attempt.request_body.items() if isinstance(v, list))
    _leased_attempt_rows(claim, [key]).update(
        outcome=AttemptOutcome.PARTIAL if len(errors) < sent else AttemptOutcome.FAILED,
        error=_describe_errors(errors),
        **answer_fields(answer),
    )
    reason = f"Braze rejected the record: {_describe_errors(errors)}"
    _set_status_and_release(claim, [key], DeliveryStatus.FAILED, reason, next_attempt_at=None)


def _record_error(
    environment, claim: Claim, batch: Batch, error: braze.BrazeError
) -> datetime | None:
    """Record a failed request; returns until when the environment must not be called."""
    logger.warning("Braze call failed for %s deliveries: %s", len(batch.keys), error)
    keys = batch.keys
    _leased_attempt_rows(claim, keys).update(
        outcome=AttemptOutcome.FAILED,
        error=str(error),
        ambiguous=error.ambiguous,
        **answer_fields(error.answer, error.duration_ms),
    )
    status = error.status
    if status in CREDENTIAL_STATUSES or (error.permanent and status is None):
        return _park(environment, claim, keys, error)
    if error.permanent:
        _fail_permanently(claim, batch, error)
        return None
    return _schedule_retry(environment, claim, keys, error)


def _park(environment, claim: Claim, keys: list[Hashable], error: braze.BrazeError) -> datetime:
    reason = (
        f"Credential problem: {error}. The environment's deliveries are parked; fix its "
        "Braze key or endpoint (saving it resumes them), then replay the failed ones."
    )
    outbox.pause(environment.pk, reason)
    _set_status_and_release(claim, keys, DeliveryStatus.FAILED, reason, next_attempt_at=None)
    return timezone.now()


def _fail_permanently(claim: Claim, batch: Batch, error: braze.BrazeError) -> None:
    per_key = errors_by_key(batch, error.answer.errors if error.answer else [])
    for key in batch.keys:
        own = per_key.get(key)
        if own:
            _leased_attempt_rows(claim, [key]).update(error=_describe_errors(own))
        reason = f"Braze rejected the record: {_describe_errors(own)}" if own else str(error)
        _set_status_and_release(claim, [key], DeliveryStatus.FAILED, reason, next_attempt_at=None)


def _schedule_retry(environment, claim: Claim, keys, error: braze.BrazeError) -> datetime:
    """Hold the environment (Braze's 429 wait, else the short probe interval: recovery.py) and
    give each delivery its own, longer backoff, which a probe cuts short once Braze is back."""
    now = timezone.now()
    advertised = recovery.advertised_wait(error)
    until = recovery.hold(environment.pk, error)
    wait = (until - now).total_seconds()
    dead, retry = [], []
    for key in keys:
        delivery = claim.deliveries[key]
        age = (now - delivery.created_at).total_seconds()
        limits = {
            "max_attempts": settings.DELIVERY_MAX_ATTEMPTS,
            "window_seconds": settings.DELIVERY_RETRY_WINDOW_SECONDS,
        }
        (dead if gives_up(delivery.attempt_count, age, **limits) else retry).append(key)
    if dead:
        reason = f"Gave up retrying: {error}"
        _set_status_and_release(claim, dead, DeliveryStatus.DEAD, reason, next_attempt_at=None)
    own = max(
        wait, outbox.delivery_backoff().delay(min(claim.deliveries[k].attempt_count for k in keys))
    )
    retry_at = now + timedelta(seconds=advertised if advertised is not None else own)
    _set_status_and_release(
        claim, retry, DeliveryStatus.RETRYING, str(error), next_attempt_at=retry_at
    )
    return until


def _remember_attributes(
    environment_id: int, delivered: list[outbox.LeasedDelivery], claim: Claim
) -> None:
    """Keep the values just delivered, for mapping sets that skip unchanged attributes."""
    changes: dict[str, dict] = {}
    for delivery in delivered:
        if not delivery.dedup_attributes:
            continue
        for obj in claim.attempts[delivery.pk].request_body.get("attributes") or []:
            values = {k: value_digest(v) for k, v in obj.items() if k not in IDENTIFIER_KEYS}
            changes.setdefault(delivery.external_id, {}).update(values)
    for external_id, values in changes.items():
        state, _ = DeliveredAttributes.objects.get_or_create(
            environment_id=environment_id, external_id=external_id
        )
        state.values = {**state.values, **values}
        state.save(update_fields=["values", "updated_at"])
