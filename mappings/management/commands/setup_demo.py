"""Load the demo configuration and print how to use it (admin login, a ready curl)."""

import shlex
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mappings.management.demo import load_demo

SAMPLE = Path(settings.BASE_DIR) / "examples" / "pypestream_conversation.json"


class Command(BaseCommand):
    help = "Create or refresh the demo environment, mapping set, API client and admin login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--braze-url", required=True, help="Fake Braze base URL")
        parser.add_argument("--braze-api-key", required=True, help="Key the fake Braze accepts")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="This service's URL"
        )

    def handle(self, *args, **options) -> None:
        logins = load_demo(options["braze_url"], options["braze_api_key"])
        base = options["base_url"].rstrip("/")
        curl = " ".join(
            [
                "curl -sS -X POST",
                shlex.quote(f"{base}/api/v1/ingest/{logins.mapping_set_slug}/"),
                "-H",
                shlex.quote(f"Authorization: Bearer {logins.api_token}"),
                "-H 'Content-Type: application/json'",
                "--data-binary",
                shlex.quote(f"@{SAMPLE}"),
            ]
        )
        self.stdout.write(
            "\n".join(
                [
                    f"Admin:       {base}/admin/",
                    f"Login:       {logins.admin_username} / {logins.admin_password}",
                    f"Deliveries:  {base}/admin/logs/deliveries/",
                    f"Fake Braze:  {options['braze_url']}/_fake/received",
                    "Send the sample conversation:",
                    f"  {curl}",
                ]
            )
        )
