"""Delete delivery log rows older than N days, in batches, keeping every open delivery; canary
runs and alert messages older than that go too (each environment keeps its newest canary runs).

manage.py purge_logs --days 90
manage.py purge_logs --use-retention-setting      # DELIVERY_RETENTION_DAYS
manage.py purge_logs --days 30 --dry-run          # count only
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mappings.management import retention


class Command(BaseCommand):
    help = (
        "Purge finished deliveries and their Braze calls older than N days (never open ones), "
        "and canary runs and alert messages older than that (the newest canary runs of each "
        "environment are kept)."
    )

    def add_arguments(self, parser) -> None:
        # Destructive: one explicit choice is required; nothing is purged by default.
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--days", type=int, help="Purge rows older than this many days")
        which.add_argument(
            "--use-retention-setting",
            action="store_true",
            help="Purge rows older than DELIVERY_RETENTION_DAYS",
        )
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="Only count what would go")

    def handle(self, *args, days: int | None, use_retention_setting: bool, **options) -> None:
        days = settings.DELIVERY_RETENTION_DAYS if use_retention_setting else days
        if days is None or days < 1:
            raise CommandError("The retention must be at least 1 day")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        cutoff = timezone.now() - timedelta(days=days)
        self.stdout.write(f"Purging finished deliveries created before {cutoff:%Y-%m-%d %H:%M}")
        if options["dry_run"]:
            count = retention.purgeable(cutoff).count()
            runs, messages = (rows.count() for rows in retention.purgeable_checks(cutoff))
            self.stdout.write(
                f"Dry run: {count} deliveries, {runs} canary runs and {messages} alert messages "
                "would be purged."
            )
            return
        self._purge(cutoff, options["batch_size"])
        checks = retention.purge_checks(cutoff)
        self.stdout.write(
            f"Purged {checks.canary_runs} canary runs and {checks.alert_messages} alert messages."
        )

    def _purge(self, cutoff, batch_size: int) -> None:
        deliveries = attempts = 0
        for batch in retention.purge(cutoff, batch_size):
            deliveries += batch.deliveries
            attempts += batch.attempts
            self.stdout.write(f"  purged {deliveries} deliveries, {attempts} Braze calls so far")
        self.stdout.write(
            self.style.SUCCESS(f"Purged {deliveries} deliveries and {attempts} Braze calls.")
        )
