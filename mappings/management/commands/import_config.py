"""Read a file written by export_config; validate all of it before writing any of it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mappings.management import config_io, config_plan


class Command(BaseCommand):
    help = "Import environments and mapping sets from a YAML or JSON file (validated first)"

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The YAML or JSON file (see docs/config-format.md)")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would change, field by field; write nothing",
        )

    def handle(self, *args, file: str, dry_run: bool = False, **options) -> None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        try:
            document = config_io.load(text)
            if dry_run:
                self._print_plan(config_plan.plan_import(document))
            report = config_io.import_document(document, dry_run=dry_run)
        except config_io.InvalidConfig as error:
            lines = "\n".join(f"  {problem}" for problem in error.problems)
            raise CommandError(
                f"{file}: {len(error.problems)} problem(s), nothing imported:\n{lines}"
            ) from error
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} {report.environments} environment(s), {report.mapping_sets} mapping set(s), "
            f"{report.rows} row(s), {report.read_rows} read row(s)."
        )

    def _print_plan(self, changes: list[config_plan.SetChange]) -> None:
        for change in changes:
            self.stdout.write("\n".join(change.lines()))
