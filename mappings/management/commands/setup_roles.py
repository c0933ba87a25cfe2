"""Create or refresh the "Auditor" and "Integration admin" groups (also done after migrate)."""

from django.core.management.base import BaseCommand

from mappings.roles import ensure_roles


class Command(BaseCommand):
    help = 'Create or refresh the "Auditor" and "Integration admin" groups and their permissions.'

    def handle(self, *args, **options) -> None:
        for name, count in ensure_roles().items():
            self.stdout.write(f"{name}: {count} permissions")
