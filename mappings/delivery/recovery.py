"""Holding an environment after a transient failure, and probing Braze to end the hold early.

A 5xx, a timeout or a connection error holds the whole environment (every worker) for the
probe interval: ``DELIVERY_PROBE_INTERVAL_BASE_SECONDS``, doubled per failure in a row, with
jitter, never above ``DELIVERY_PROBE_INTERVAL_MAX_SECONDS``. A 429 holds it as long as Braze's
headers say instead, and is not counted as a failure (Braze is up).

When a hold ends with failures counted, the next drain first sends a probe: ``POST
/users/track`` with an empty object, which Braze answers 400 without writing anything or
counting a data point (docs/braze.md). Any answer but a transient one means Braze is back: the
count is reset and the environment's retries are made due at once (``outbox.record_success``;
those whose last try may have reached Braze keep their own backoff),
so after an outage delivery resumes within the cap plus one sweep interval, not when each
delivery's own backoff (up to an hour) runs out. A probe spends no delivery's attempt and
writes no attempt row; it is logged at INFO.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mappings.delivery import braze, outbox
from mappings.delivery.retry_policy import Backoff, rate_limit_wait
from mappings.encryption import SecretDecryptionError
from mappings.models import BrazeCredential, Environment

logger = logging.getLogger(__name__)

# Braze answers an empty body 400 "Valid data must be provided in the 'attributes', 'events',
# or 'purchases' fields.": it writes nothing and costs no data point.
PROBE_BODY: dict = {}


def probe_interval(failures: int) -> float:
    """Seconds to hold an environment after its ``failures``-th transient failure in a row."""
    base = settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS
    return Backoff(base, settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS).delay(failures)


def advertised_wait(error: braze.BrazeError) -> float | None:
    """Seconds a 429 asks us to wait, by its rate-limit headers; None for anything else."""
    if error.status != 429 or error.answer is None:
        return None
    return rate_limit_wait(error.answer.headers, time.time())


def hold(environment_id: int, error: braze.BrazeError) -> datetime:
    """Hold all traffic to the environment after a transient failure; returns until when.

    A 429 waits as Braze says and counts no failure; a 5xx, timeout or connection error (or a
    429 that says nothing) waits the probe interval of the failure count it is the next of.
    """
    rate_limited = error.status == 429
    wait = advertised_wait(error)
    if wait is None:
        wait = probe_interval(outbox.gate(environment_id).consecutive_failures + 1)
    until = timezone.now() + timedelta(seconds=wait)
    outbox.block(environment_id, until, failed=not rate_limited)
    return until


def probe(environment_id: int) -> bool:
    """Ask Braze whether it is back; True when the environment's deliveries may go.

    Braze back: the failures are reset and the waiting retries made due now. Still failing:
    the environment is held again, and retries due past their window are given up.
    """
    environment = Environment.objects.select_related("credential").get(pk=environment_id)
    try:
        api_key = environment.credential.api_key()
    except (BrazeCredential.DoesNotExist, SecretDecryptionError):
        return True  # nothing to probe with: sending parks the environment as a credential problem
    logger.info("Probing Braze for environment %s with an empty /users/track", environment.pk)
    try:
        status = braze.track_users(environment.rest_endpoint, api_key, PROBE_BODY).status
    except braze.BrazeError as error:
        if not error.permanent:
            _still_failing(environment_id, error)
            return False
        status = error.status
    resumed = outbox.record_success(environment_id)
    logger.info(
        "Braze answered the probe for environment %s with %s: back, %s retries due now",
        environment_id,
        status,
        resumed,
    )
    return True


def _still_failing(environment_id: int, error: braze.BrazeError) -> None:
    until = hold(environment_id, error)
    dead = outbox.give_up_overdue(environment_id, f"Gave up retrying: {error}")
    logger.info(
        "Braze failed the probe for environment %s: %s; held until %s%s",
        environment_id,
        error,
        until.isoformat(),
        f", {dead} retries past their window given up" if dead else "",
    )
