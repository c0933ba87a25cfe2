from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, using: str = "default", **kwargs) -> None:
    from mappings.roles import ensure_roles

    ensure_roles(sender, using=using)


class MappingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mappings"
    verbose_name = "Braze integration"

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="mappings-roles")
        from mappings import (
            periodic_jobs,
            signals,  # noqa: F401 - connects the receivers
            startup_checks,  # noqa: F401 - registers the system checks
        )
        from mappings.alerts import evaluation
        from mappings.canary import run as canary
        from mappings.log_pages import dashboard_figures

        periodic_jobs.register("canary", canary.run_due_canaries, "CANARY_INTERVAL_SECONDS")
        periodic_jobs.register(
            "alerts", evaluation.evaluate_all, "ALERTS_EVALUATE_INTERVAL_SECONDS"
        )
        periodic_jobs.register(
            "dashboard", dashboard_figures.refresh_viewed, "DASHBOARD_REFRESH_SECONDS"
        )
