"""No secret leaks (S9): after a full run, the Braze key, client token and signing secret appear
in no API response, admin page, database row (audit and history tables included) or log line.

The only places a secret is ever shown are the one-time issuance pages, which are excluded from
the scan and checked to be uncacheable.
"""

import json
import logging
import time

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from mappings.api.signing import sign
from mappings.fake_braze import Fault
from mappings.models import ApiClient, Environment, MappingSet
from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db


def _admin_setup(admin_client, braze) -> tuple[str, str]:
    """Configure everything through the admin, as an operator would; return token and secret."""
    admin_client.post(
        "/admin/mappings/environment/add/", {"name": "prod", "rest_endpoint": braze.url}
    )
    environment = Environment.objects.get(name="prod")
    admin_client.post(
        "/admin/mappings/brazecredential/add/",
        {"environment": environment.pk, "api_key": BRAZE_KEY},
    )
    admin_client.post(
        "/admin/mappings/mappingset/add/",
        {
            "name": "Bot", "slug": "bot", "environment": environment.pk, "is_active": "on",
            "identifier_source_path": "user.id", "identifier_type": "external_id",
            "identifier_transforms": "[]", "on_problem": "reject", "delivery_mode": "sync",
            "partial_success": "fail", "rows-TOTAL_FORMS": "1",
            "rows-INITIAL_FORMS": "0", "rows-0-position": "0", "rows-0-source_path": "user.email",
            "rows-0-target_attribute": "email", "rows-0-required": "on",
            "rows-0-source_type": "path", "rows-0-operation": "set", "rows-0-transforms": "[]",
        },
    )  # fmt: skip
    assert MappingSet.objects.filter(slug="bot").exists(), "the admin refused the mapping set"
    token_page = admin_client.post(
        "/admin/mappings/apiclient/add/",
        {"name": "Platform", "is_active": "on", "mapping_sets": [MappingSet.objects.get().pk]},
    )
    assert "no-store" in token_page["Cache-Control"]
    [(client, token)] = token_page.context["issued"]
    secret_page = admin_client.post(
        "/admin/mappings/apiclient/",
        {"action": "issue_signing_secret", "_selected_action": [client.pk]},
    )
    assert "no-store" in secret_page["Cache-Control"]
    [(_, secret)] = secret_page.context["issued"]
    return token, secret


def _api_calls(token: str, secret: str, braze) -> list[bytes]:
    api = Client()
    seen = []

    def post(body: bytes, *, signed=True, auth=token, headers=None):
        timestamp = str(int(time.time()))
        extra = {
            "X-Bridge-Timestamp": timestamp,
            "X-Bridge-Signature": sign(secret, timestamp, body),
        }
        all_headers = {
            "Authorization": f"Bearer {auth}",
            **(extra if signed else {}),
            **(headers or {}),
        }
        response = api.generic(
            "POST",
            "/api/v1/ingest/bot/",
            body,
            content_type="application/json",
            headers=all_headers,
        )
        seen.append(response.serialize())
        return response

    good = json.dumps({"user": {"id": "u-1", "email": "a@example.com"}}).encode()
    assert post(good).status_code == 200
    braze.add_fault(Fault(status=401, times=1))
    assert post(good + b" ").status_code == 502
    braze.add_fault(Fault(status=503, times=1))
    assert post(good + b"  ").status_code == 202  # queued: retried in the background
    assert post(b'{"user": {}}').status_code == 422
    assert post(b"{bad json").status_code == 400
    assert post(good, signed=False).status_code == 401
    assert post(good, auth=token[:-2] + "xx").status_code == 401
    assert post(b"x" * 2_000_000).status_code == 413
    replay_headers = {"X-Bridge-Timestamp": "1", "X-Bridge-Signature": sign(secret, "1", good)}
    assert post(good, signed=False, headers=replay_headers).status_code == 401
    for url in ["/api/schema/", "/api/docs/", "/healthz", "/readyz", "/api/v1/nope/"]:
        seen.append(api.get(url).serialize())
    return seen


def _admin_pages(admin_client) -> list[bytes]:
    pages = []
    for model in apps.get_models():
        opts = model._meta
        try:
            changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except Exception:  # noqa: S112 - not every model has an admin
            continue
        pages.append(admin_client.get(changelist).content)
        for pk in model.objects.values_list("pk", flat=True)[:5]:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
            history = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[pk])
            pages += [admin_client.get(change).content, admin_client.get(history).content]
    return pages


def _database_dump() -> str:
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows += [repr(row) for row in cursor.fetchall()]
    return "\n".join(rows)


def test_no_secret_appears_in_responses_pages_rows_or_logs(admin_client, braze, caplog):
    caplog.set_level(logging.DEBUG)
    token, secret = _admin_setup(admin_client, braze)
    assert ApiClient.objects.get().signs_requests

    responses = _api_calls(token, secret, braze)
    pages = _admin_pages(admin_client)
    haystacks = {
        "API responses": b"\n".join(responses).decode("utf-8", "replace"),
        "admin pages": b"\n".join(pages).decode("utf-8", "replace"),
        "database rows": _database_dump(),
        "application logs": "\n".join(
            f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
            for record in caplog.records
        ),
    }

    assert len(pages) > 10 and len(caplog.records) > 5
    for name, text in haystacks.items():
        for label, secret_value in [
            ("Braze key", BRAZE_KEY),
            ("token", token),
            ("signing secret", secret),
        ]:
            assert secret_value not in text, f"{label} found in {name}"
    assert "••••" + BRAZE_KEY[-4:] in haystacks["admin pages"]
