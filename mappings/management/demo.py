"""The demo configuration loaded by ``manage.py setup_demo`` (and the README's run command).

A sandbox environment pointing at the local fake Braze, a mapping set for a Pypestream-style
conversation (see examples/pypestream_conversation.json), an API client allowed to use it, and
an admin login.
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from mappings.models import ApiClient, Environment, FieldMapping, MappingSet

DEMO_SLUG = "pypestream-demo"
# (source, target, required, transforms): nested paths, a human date, a local phone number,
# normalised codes and a custom event with properties.
DEMO_ROWS = [
    ("user.first_name", "first_name", True, ["trim"]),
    ("user.last_name", "last_name", False, ["trim"]),
    ("user.email", "email", True, ["trim", "lower"]),
    ("user.phone", "phone", False, [{"name": "phone", "region": "BR"}]),
    ("user.city", "home_city", False, ["trim"]),
    ("user.gender", "gender", False, ["gender"]),
    ("session.answers[1].value", "country", False, ["country"]),
    ("answers.date_of_birth", "dob", False, [{"name": "dob", "order": "DMY"}]),
    ("answers.interest", "bot_interest", False, ["trim"]),
    ("session.answers[2].value", "email_subscribe", False,
     [{"name": "lookup", "table": {"yes": "opted_in", "no": "unsubscribed"}, "otherwise": "skip"}]),
    ("session.channel", "events[0].properties.channel", False, []),
    ("answers.interest", "events[0].properties.interest", False, []),
    ("session.started_at", "events[0].time", False, ["datetime"]),
]  # fmt: skip
DEMO_EVENT = "bot_conversation_completed"


@dataclass(frozen=True)
class DemoLogins:
    admin_username: str
    admin_password: str
    api_token: str
    mapping_set_slug: str


def _mapping_set(braze_url: str, api_key: str) -> MappingSet:
    environment, _ = Environment.objects.update_or_create(
        name="sandbox", defaults={"rest_endpoint": braze_url}
    )
    environment.store_api_key(api_key)
    mapping_set, _ = MappingSet.objects.update_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Pypestream demo bot",
            "environment": environment,
            "is_active": True,
            "identifier_source_path": "user.id",
        },
    )
    mapping_set.rows.all().delete()
    FieldMapping.objects.bulk_create(
        FieldMapping(
            mapping_set=mapping_set,
            position=i,
            source_path=src,
            target_attribute=dst,
            required=req,
            transforms=transforms,
        )
        for i, (src, dst, req, transforms) in enumerate(DEMO_ROWS)
    )
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=len(DEMO_ROWS), source_type="constant",
        source_path=DEMO_EVENT, target_attribute="events[0].name",
    )  # fmt: skip
    mapping_set.bump_version()  # bulk_create skips save(): make the change visible
    return mapping_set


def _api_token(mapping_set: MappingSet) -> str:
    client = ApiClient.objects.filter(name="Demo Pypestream bot").first()
    client = client or ApiClient(name="Demo Pypestream bot")
    token = client.issue_token()
    client.is_active = True
    client.save()
    client.mapping_sets.add(mapping_set)
    return token


def _admin_password(username: str) -> str:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    user = user or user_model(username=username, email=f"{username}@localhost")
    password = secrets.token_urlsafe(12)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return password


@transaction.atomic
def load_demo(braze_url: str, braze_api_key: str, admin_username: str = "admin") -> DemoLogins:
    """Create or refresh the demo configuration; fresh token and admin password each time."""
    mapping_set = _mapping_set(braze_url, braze_api_key)
    return DemoLogins(
        admin_username=admin_username,
        admin_password=_admin_password(admin_username),
        api_token=_api_token(mapping_set),
        mapping_set_slug=mapping_set.slug,
    )
