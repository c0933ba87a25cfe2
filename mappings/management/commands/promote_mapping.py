"""Promote a mapping set's published mapping into another environment (as the admin does)."""

from django.core.management.base import BaseCommand, CommandError

from mappings.management import config_io, promotion
from mappings.models import Environment, MappingSet


class Command(BaseCommand):
    help = "Copy a mapping set's published mapping into a set of another environment"

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The mapping set to promote")
        parser.add_argument("--to", required=True, help="The target environment's name")
        parser.add_argument("--target-slug", default="", help="Default: <slug>-<environment>")
        parser.add_argument("--note", default="", help="Kept with the target's new version")
        parser.add_argument("--dry-run", action="store_true", help="Print the diff; write nothing")

    def handle(self, *args, slug: str, to: str, target_slug: str, note: str, dry_run: bool,
               **options) -> None:  # fmt: skip
        source = MappingSet.objects.select_related("environment").filter(slug=slug).first()
        environment = Environment.objects.filter(name=to).first()
        if source is None or environment is None:
            raise CommandError(
                f"No mapping set '{slug}'" if source is None else f"No environment '{to}'"
            )
        target_slug = target_slug or promotion.default_target_slug(source, environment)
        try:
            planned = promotion.plan(source, environment, target_slug)
        except promotion.PromotionRefused as error:
            raise CommandError(str(error)) from error
        except config_io.InvalidConfig as error:
            raise CommandError(str(error)) from error
        self.stdout.write("\n".join(planned.change.lines()))
        if dry_run or not planned.diff:
            self.stdout.write("Nothing written." if dry_run else "Nothing to promote.")
            return
        version = promotion.apply(planned, note=note)
        self.stdout.write(f"Promoted: {target_slug} is v{version.number} in {environment.name}.")
