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
        self._rotate_signing_secrets()
        self._rotate_webhook_urls()

    def _rotate_signing_secrets(self) -> None:
        clients = list(ApiClient.objects.select_for_update().exclude(signing_secret_ciphertext=""))
        for client in clients:
            try:
                ciphertext = encryption.rotate(client.signing_secret_ciphertext)
            except encryption.SecretDecryptionError as error:
                raise CommandError(f"API client {client}: {error}") from error
            ApiClient.objects.filter(pk=client.pk).update(signing_secret_ciphertext=ciphertext)
        self.stdout.write(self.style.SUCCESS(f"Rotated {len(clients)} signing secret(s)."))

    def _rotate_webhook_urls(self) -> None:
        rules = list(AlertRule.objects.select_for_update().exclude(webhook_url_ciphertext=""))
        for rule in rules:
            try:
                ciphertext = encryption.rotate(rule.webhook_url_ciphertext)
            except encryption.SecretDecryptionError as error:
                raise CommandError(f"Alert rule {rule}: {error}") from error
            AlertRule.objects.filter(pk=rule.pk).update(webhook_url_ciphertext=ciphertext)
        self.stdout.write(self.style.SUCCESS(f"Rotated {len(rules)} alert webhook URL(s)."))
