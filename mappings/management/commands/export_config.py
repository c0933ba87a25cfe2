"""Write environments (without secrets) and mapping sets as YAML or JSON."""

from pathlib import Path

from django.core.management.base import BaseCommand

from mappings.management import config_io


class Command(BaseCommand):
    help = "Export environments (no API keys) and mapping sets to a YAML or JSON file"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="File to write (default: standard output)")
        parser.add_argument(
            "--format", choices=["yaml", "json"], help="Default: from the file name, else yaml"
        )
        parser.add_argument(
            "--mapping-set", action="append", dest="slugs", help="Only this slug (repeatable)"
        )

    def handle(self, *args, output=None, format=None, slugs=None, **options) -> None:
        form = format or ("json" if output and output.endswith(".json") else "yaml")
        text = config_io.dump(config_io.export_document(slugs), form)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")
