"""Shared fixtures: a real fake-Braze server over HTTP and a configured mapping set."""

import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from mappings.api import config_lookups, request_quota
from mappings.fake_braze import FakeBraze
from mappings.models import ApiClient, Environment, FieldMapping, MappingSet

BRAZE_KEY = "braze-test-key-canary-7Qx9"
# A key of the same workspace without the users.track permission: the fake answers it 403.
NO_TRACK_KEY = "braze-export-only-key-canary-3Lw2"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters and reserved units, seen signatures and looked-up configuration must
    not leak from one test into the next (rows are rolled back, so ids and slugs come again)."""
    cache.clear()
    config_lookups.forget()
    request_quota.forget()
    yield


@pytest.fixture(autouse=True)
def fast_delivery(settings):
    """Short waits so retry paths run in test time; no background thread (tests drain it)."""
    settings.DELIVERY_EMBEDDED_WORKER = False
    settings.CELERY_BROKER_URL = ""
    settings.DELIVERY_SYNC_BUDGET_SECONDS = 3.0
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 0.05
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 0.2
    settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS = 0.05
    settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS = 0.2
    settings.DELIVERY_LEASE_SECONDS = 30.0
    settings.BRAZE_READ_TIMEOUT_SECONDS = 5.0


@pytest.fixture(scope="session")
def fake_braze_server():
    with FakeBraze(
        api_keys={BRAZE_KEY}, key_permissions={NO_TRACK_KEY: ["users.export.ids"]}
    ) as server:
        yield server


@pytest.fixture
def braze(fake_braze_server):
    """The fake Braze, emptied of received requests and faults for this test."""
    fake_braze_server.reset()
    yield fake_braze_server
    fake_braze_server.reset()


@pytest.fixture
def environment(braze, db) -> Environment:
    environment = Environment.objects.create(name="sandbox", rest_endpoint=braze.url)
    environment.store_api_key(BRAZE_KEY)
    return environment


@pytest.fixture
def mapping_set(environment) -> MappingSet:
    mapping_set = MappingSet.objects.create(
        slug="support-bot", name="Support bot", environment=environment,
        identifier_source_path="user.id",
    )  # fmt: skip
    rows = [
        ("user.profile.email", "email", True),
        ("user.profile.first_name", "first_name", True),
        ("answers.city", "home_city", False),
        ("answers.plan", "plan_interest", False),
    ]
    for position, (source, target, required) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=source,
            target_attribute=target, required=required,
        )  # fmt: skip
    return mapping_set


@pytest.fixture
def platform_client(db):
    """Makes an API client for the given mapping sets; returns its token."""

    def make(*mapping_sets: MappingSet) -> str:
        client = ApiClient(name="Bot platforms")
        token = client.issue_token()
        client.save()
        client.mapping_sets.add(*mapping_sets)
        return token

    return make


@pytest.fixture
def api_token(mapping_set) -> str:
    client = ApiClient(name="Support bot platform")
    token = client.issue_token()
    client.save()
    client.mapping_sets.add(mapping_set)
    return token


def conversation_for(user_id: str, city: str = "Lisbon") -> dict:
    return {
        "user": {
            "id": user_id,
            "profile": {"email": f"{user_id}@example.com", "first_name": "Zoë"},
        },
        "answers": {"city": city},
    }


@pytest.fixture
def conversation() -> dict:
    return {
        "user": {"id": "u-42", "profile": {"email": "zoe@example.com", "first_name": "Zoë"}},
        "answers": {"city": "Lisbon", "plan": "premium"},
    }


class IngestCaller:
    """Posts to the ingest endpoint the way a conversation platform does."""

    def __init__(self, token: str):
        self.client = APIClient()
        self.token = token

    def post(
        self,
        slug: str,
        body,
        *,
        token: str | None = None,
        content_type="application/json",
        headers: dict[str, str] | None = None,
        mode: str | None = None,
        key: str | None = None,
    ):
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        sent = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        if key is not None:
            sent["Idempotency-Key"] = key
        query = f"?mode={mode}" if mode is not None else ""
        return self.client.generic(
            "POST", f"/api/v1/ingest/{slug}/{query}", raw, content_type=content_type,
            headers={**sent, **(headers or {})},
        )  # fmt: skip

    def send_async(self, slug: str, *user_ids: str) -> list[str]:
        """One async ingest per user (each answered 202); their delivery ids."""
        ids = []
        for user_id in user_ids:
            response = self.post(slug, conversation_for(user_id), mode="async")
            assert response.status_code == 202, response.content
            ids.append(response.json()["delivery_id"])
        return ids

    def get(self, path: str, *, token: str | None = None):
        return self.client.get(path, headers={"Authorization": f"Bearer {token or self.token}"})


@pytest.fixture
def ingest(api_token) -> IngestCaller:
    return IngestCaller(api_token)
