"""Create a mapping set from a bot platform's preset, to be edited in the admin afterwards."""

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from mappings import presets
from mappings.management import config_io


class Command(BaseCommand):
    help = (
        "Create a mapping set from a platform preset (mappings/presets/): the platform's usual "
        "parameters mapped to Braze's standard attributes, a bot_conversation event and the user "
        "identifier. Refuses a slug already in use. Platforms: " + ", ".join(presets.platforms())
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("platform", help="A platform id: " + ", ".join(presets.platforms()))
        parser.add_argument("--slug", required=True, help="The new set's slug (its URL part)")
        parser.add_argument(
            "--environment", required=True, help="The name of an existing environment"
        )
        parser.add_argument("--name", help="The set's name (default: the preset's, like Rasa bot)")

    def handle(self, *args, platform: str, slug: str, environment: str, name=None, **options):
        self.stdout.write(f"Reading the {platform} preset...")
        try:
            mapping_set = config_io.create_from_preset(
                platform, slug=slug, environment=environment, name=name
            )
        except config_io.InvalidConfig as error:
            lines = "\n".join(f"  {problem}" for problem in error.problems)
            raise CommandError(f"Nothing created:\n{lines}") from error
        rows = mapping_set.rows.count()
        self.stdout.write(
            f"Created mapping set {mapping_set.slug!r} ({mapping_set.name}) in environment "
            f"{environment!r}: {rows} row(s), identifier {mapping_set.identifier_type} from "
            f"{mapping_set.identifier_source_path}."
        )
        self.stdout.write(f"Route: /api/v1/platforms/{platform}/{mapping_set.slug}/")
        change = reverse("admin:mappings_mappingset_change", args=[mapping_set.pk])
        self.stdout.write(f"Edit it in the admin: {change}")
