"""Delivery workers: drain the outbox, run the sweep, and wake up when there is new work.

Two engines run the same loop:
- embedded (no broker, the default and the demo): a daemon thread inside each web process,
  woken by ``notify`` and by a timer every ``DELIVERY_SWEEP_INTERVAL_SECONDS``;
- Celery on Redis (``CELERY_BROKER_URL`` set): ``notify`` enqueues a task per environment,
  coalesced to one per ``DELIVERY_HINT_INTERVAL_SECONDS`` (mappings/delivery/hints.py), and
  Celery beat runs the sweep (mappings/tasks.py).
Either way the hint is only a hint: the Delivery rows are the record of truth and the sweep
re-enqueues whatever a lost hint, a flushed Redis or a killed worker left behind, and every
environment whose hold after an outage has ended, so Braze is probed without a new ingest.
"""

import logging
import threading
import time

from celery import signature
from django.conf import settings
from django.db import close_old_connections, transaction

from mappings import periodic_jobs
from mappings.delivery import dispatch, outbox, recovery
from mappings.delivery.hints import HintCoalescer

logger = logging.getLogger(__name__)


def drain_environment(environment_id: int, *, max_seconds: float = 60.0) -> int:
    """Send due deliveries of one environment until none is left; returns how many were claimed.

    After transient failures, once the hold has ended, Braze is probed first (recovery.py): its
    answer makes the waiting retries due at once, or holds the environment again.
    """
    started, total = time.monotonic(), 0
    while time.monotonic() - started < max_seconds:
        wait, failures = outbox.gate_state(environment_id)
        if wait != 0.0:
            break  # paused, or held after a failure: the deliveries are scheduled, not lost
        if failures and not recovery.probe(environment_id):
            break  # Braze still fails: held again until the next probe
        token, deliveries = outbox.claim(environment_id, settings.DELIVERY_CLAIM_SIZE)
        if not deliveries:
            break
        total += len(deliveries)
        dispatch.send_claimed(token, deliveries)
    return total


def run_once() -> int:
    """One sweep and a drain of every environment with due work (the embedded loop's body)."""
    return sum(drain_environment(env_id) for env_id in outbox.sweep())


def drain_all(*, max_seconds: float = 60.0) -> int:
    """Run until nothing is due (tests and the benchmark use this)."""
    started, total = time.monotonic(), 0
    while time.monotonic() - started < max_seconds:
        done = run_once()
        total += done
        if not done:
            break
    return total


class EmbeddedWorker:
    """A background thread in the web process: the embedded engine."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="delivery-worker", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        self.ensure_started()
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(timeout=settings.DELIVERY_SWEEP_INTERVAL_SECONDS)
            self._wake.clear()
            try:
                close_old_connections()
                run_once()
            except Exception:  # keep the thread alive: the next round or the sweep retries
                logger.exception("Delivery worker round failed")
            try:
                periodic_jobs.run_due()  # alerts, canary: logged and retried on their own
            except Exception:
                logger.exception("Periodic jobs round failed")
            finally:
                close_old_connections()


embedded = EmbeddedWorker()


# The task is named, not imported: mappings/tasks.py is the Celery entry point and imports this
# module, so importing it back would close a circle.
DRAIN_TASK = "mappings.tasks.deliver_environment"


def _enqueue(environment_id: int) -> None:
    signature(DRAIN_TASK, args=(environment_id,)).delay()


# One per process: a publish costs the request a broker round trip and one drain task empties an
# environment, so a burst of ingests needs one message at once and one after the interval.
hints = HintCoalescer(_enqueue, lambda: settings.DELIVERY_HINT_INTERVAL_SECONDS)


def notify(environment_id: int) -> None:
    """Hint that the environment has new work, once the current transaction commits."""
    if settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: hints.hint(environment_id))
    elif settings.DELIVERY_EMBEDDED_WORKER:
        transaction.on_commit(embedded.wake)


def start_embedded_worker() -> None:
    """Start the embedded engine in a web process (so the sweep runs without any ingest)."""
    if not settings.CELERY_BROKER_URL and settings.DELIVERY_EMBEDDED_WORKER:
        embedded.ensure_started()
