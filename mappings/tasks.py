"""Celery tasks: hints to drain an environment, and the periodic sweep.

``acks_late`` + ``reject_on_worker_lost`` so a task whose worker is killed is redelivered; even
then the broker is not the record of truth: the sweep finds any row a lost task left behind.
"""

from celery import shared_task

from mappings import periodic_jobs
from mappings.delivery import worker


@shared_task(name=worker.DRAIN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_environment(environment_id: int) -> int:
    return worker.drain_environment(environment_id)


@shared_task(ignore_result=True)
def sweep() -> int:
    """Take back expired leases and enqueue a drain for every environment with due work."""
    environment_ids = worker.outbox.sweep()
    for environment_id in environment_ids:
        deliver_environment.delay(environment_id)
    return len(environment_ids)


@shared_task(ignore_result=True)
def run_periodic_job(name: str) -> None:
    """One periodic job (alerts, canary), sent by beat on the job's interval."""
    periodic_jobs.run_job(name)
