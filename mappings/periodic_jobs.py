"""Jobs that run every so often besides delivery: alert evaluation, the Braze canary.

Each job is registered once (``mappings/apps.py``) with a function and the setting that holds its
interval. Two engines run them, like the delivery loop:
- embedded (no broker): the delivery thread of each web process calls ``run_due`` after every
  round; the job runs when its interval has passed in this process;
- Celery (``CELERY_BROKER_URL`` set): beat sends each job's task on its interval
  (``integration_admin/celery.py``, ``mappings/tasks.py``).
With several web processes each runs the embedded jobs, so a job must be safe to run twice at
once: it decides what is due from the database, not from this process's memory.

This module sits on the ground floor so the delivery loop can call jobs of rooms above it
without importing them.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    run: Callable[[], object]
    interval_setting: str  # seconds; 0 or less turns the job off
    last_started: float | None = None  # time.monotonic() of this process's last run

    @property
    def interval(self) -> float:
        return float(getattr(settings, self.interval_setting))

    def due(self, now: float) -> bool:
        if self.interval <= 0:
            return False
        return self.last_started is None or now - self.last_started >= self.interval


_jobs: dict[str, Job] = {}


def register(name: str, run: Callable[[], object], interval_setting: str) -> None:
    """Add a job (again under the same name replaces it: app reloads in tests)."""
    _jobs[name] = Job(name, run, interval_setting)


def jobs() -> list[Job]:
    return list(_jobs.values())


def run_job(name: str) -> object:
    """Run one job now (Celery's task body, and ``run_due``'s)."""
    return _jobs[name].run()


def run_due() -> list[str]:
    """Run every job whose interval has passed in this process; a failing job does not stop
    the others (it is logged and tried again after its interval)."""
    ran = []
    for job in jobs():
        now = time.monotonic()
        if not job.due(now):
            continue
        job.last_started = now
        try:
            job.run()
        except Exception:
            logger.exception("Periodic job %s failed", job.name)
        ran.append(job.name)
    return ran
