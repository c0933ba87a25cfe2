from django.apps import AppConfig


class MappingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mappings"
    verbose_name = "Braze integration"

    def ready(self) -> None:
        from mappings import signals  # noqa: F401 - connects the receivers
