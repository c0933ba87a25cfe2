"""Run the delivery loop in the foreground without a broker (the embedded engine, standalone).

    python manage.py run_delivery_worker [--once]

Several may run at once (and beside web processes): leases keep them from sending the same
delivery twice. With Celery, run ``celery -A integration_admin worker --beat`` instead.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from mappings.delivery import worker


class Command(BaseCommand):
    help = "Deliver the outbox to Braze in the foreground (sweep + drain, forever)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Drain until idle, then exit")
        parser.add_argument(
            "--idle-seconds",
            type=float,
            default=None,
            help="Pause between rounds when idle (default: DELIVERY_SWEEP_INTERVAL_SECONDS)",
        )

    def handle(self, *args, once: bool, idle_seconds: float | None, **options) -> None:
        if once:
            self.stdout.write(f"delivered {worker.drain_all()} claims")
            return
        pause = (
            idle_seconds if idle_seconds is not None else settings.DELIVERY_SWEEP_INTERVAL_SECONDS
        )
        self.stdout.write("delivery worker running", ending="\n")
        self.stdout.flush()
        while True:
            close_old_connections()
            if not worker.run_once():
                time.sleep(pause)
