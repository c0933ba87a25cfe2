"""Re-encrypt stored Braze API keys, API-client signing secrets and alert webhook URLs under the
first key of BRAZE_KEY_ENCRYPTION_KEYS.

Rotation: put a new key first in BRAZE_KEY_ENCRYPTION_KEYS (keep the old one after it), run
this command, then remove the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mappings import encryption
from mappings.models import AlertRule, ApiClient, BrazeCredential


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
        # The other secrets: (model, ciphertext column, what the error names, what the total says).
        self._rotate_column(ApiClient, "signing_secret_ciphertext", "API client", "signing secret")
        self._rotate_column(AlertRule, "webhook_url_ciphertext", "Alert rule", "alert webhook URL")

    def _rotate_column(self, model, column: str, owner: str, what: str) -> None:
        """Re-encrypt one ciphertext column of every row that holds a value."""
        rows = list(model.objects.select_for_update().exclude(**{column: ""}))
        for row in rows:
            try:
                ciphertext = encryption.rotate(getattr(row, column))
            except encryption.SecretDecryptionError as error:
                raise CommandError(f"{owner} {row}: {error}") from error
            model.objects.filter(pk=row.pk).update(**{column: ciphertext})
        self.stdout.write(self.style.SUCCESS(f"Rotated {len(rows)} {what}(s)."))
