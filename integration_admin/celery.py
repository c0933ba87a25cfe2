"""The Celery app for production delivery workers (Redis broker from CELERY_BROKER_URL).

Run a worker with the sweep (beat) embedded:
    celery -A integration_admin worker --beat --loglevel INFO
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_admin.settings")

app = Celery("integration_admin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_sweep(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    from mappings import periodic_jobs

    sender.add_periodic_task(
        settings.DELIVERY_SWEEP_INTERVAL_SECONDS, sender.signature("mappings.tasks.sweep")
    )
    for job in periodic_jobs.jobs():
        if job.interval > 0:
            task = sender.signature("mappings.tasks.run_periodic_job", args=(job.name,))
            sender.add_periodic_task(job.interval, task, name=f"periodic job {job.name}")
