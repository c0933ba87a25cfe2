"""Print a new key for BRAZE_KEY_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand

from mappings.encryption import generate_key


class Command(BaseCommand):
    help = "Print a new Fernet key for BRAZE_KEY_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        self.stdout.write(generate_key())
