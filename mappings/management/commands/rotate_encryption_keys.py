"""Re-encrypt every stored Braze API key under the first key of BRAZE_KEY_ENCRYPTION_KEYS.

Rotation: put a new key first in BRAZE_KEY_ENCRYPTION_KEYS (keep the old one after it), run
this command, then remove the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mappings import encryption
from mappings.models import BrazeCredential


class Command(BaseCommand):
    help = "Re-encrypt stored Braze API keys with the primary encryption key."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        credentials = list(
            BrazeCredential.objects.select_for_update().select_related("environment")
        )
        for number, credential in enumerate(credentials, start=1):
            try:
                credential.api_key_ciphertext = encryption.rotate(credential.api_key_ciphertext)
            except encryption.SecretDecryptionError as error:
                raise CommandError(f"{credential.environment}: {error}") from error
            credential.save(update_fields=["api_key_ciphertext", "updated_at"])
            self.stdout.write(
                f"[{number}/{len(credentials)}] re-encrypted {credential.environment}"
            )
        self.stdout.write(self.style.SUCCESS(f"Rotated {len(credentials)} credential(s)."))
