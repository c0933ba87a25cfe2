"""The two staff roles, as Django groups: read-only auditors and integration admins.

Created (and kept up to date) after every ``migrate`` and by ``manage.py setup_roles``. Add a
user to a group and tick "staff status"; never make auditors superusers.
"""

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

AUDITOR = "Auditor"
INTEGRATION_ADMIN = "Integration admin"

# ``lookupsettings`` is the Lookups page (a proxy of the mapping set, with its own permissions).
CONFIG_MODELS = [
    "environment", "brazecredential", "mappingset", "fieldmapping", "apiclient", "alertrule",
    "lookupsettings", "lookupfield",
]  # fmt: skip
LOG_MODELS = [
    "delivery", "deliveryattempt", "lookup", "canaryrun", "alertstate", "alertnotification",
]  # fmt: skip
HISTORY_MODELS = [f"historical{model}" for model in CONFIG_MODELS]


def _codenames(actions: list[str], models: list[str]) -> list[str]:
    return [f"{action}_{model}" for action in actions for model in models]


# Auditors read logs, configuration and its history; they change nothing and cannot replay.
# Secrets are never shown to anyone (keys as last 4 characters, tokens as a hint).
ROLE_PERMISSIONS = {
    AUDITOR: _codenames(["view"], CONFIG_MODELS + LOG_MODELS + HISTORY_MODELS),
    INTEGRATION_ADMIN: [
        *_codenames(["add", "change", "delete", "view"], CONFIG_MODELS),
        *_codenames(["view"], LOG_MODELS + HISTORY_MODELS),
        "replay_delivery",
    ],
}


def ensure_roles(app_config=None, using: str = "default") -> dict[str, int]:
    """Create both groups and set exactly their permissions; returns permissions per group."""
    if app_config is not None:
        # Our post_migrate may run before auth's: make sure the permissions exist first.
        create_permissions(app_config, verbosity=0, using=using)
    counts = {}
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        permissions = Permission.objects.using(using).filter(
            content_type__app_label="mappings", codename__in=codenames
        )
        group.permissions.set(permissions)
        counts[name] = permissions.count()
    return counts
