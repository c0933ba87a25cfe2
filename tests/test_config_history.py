"""Who changed what: configuration changes are recorded with user, time and diff, never secrets."""

import pytest
from django.contrib.auth.models import Group

from mappings.models import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.admin_forms import mapping_set_change_form
from tests.conftest import BRAZE_KEY
from tests.staff import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):
    return logged_in(client, "oscar", INTEGRATION_ADMIN)


def test_a_mapping_published_in_the_admin_is_recorded_with_user_and_diff(admin, mapping_set):
    data = mapping_set_change_form(
        mapping_set, name="Support bot v2", _publish="Publish", **{"rows-2-is_sensitive": "on"}
    )

    response = admin.post(f"/admin/mappings/mappingset/{mapping_set.pk}/change/", data)

    assert response.status_code == 302
    latest = mapping_set.history.latest()
    assert latest.history_user.username == "oscar"
    assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["name"]
    row = FieldMapping.history.filter(target_attribute="home_city").latest()
    assert row.is_sensitive and row.history_user.username == "oscar"
    assert MappingSet.objects.get().version == 2
    history = admin.get(f"/admin/mappings/mappingset/{mapping_set.pk}/history/").content.decode()
    assert "Support bot v2" in history and "oscar" in history
    changes = admin.get("/admin/logs/changes/").content.decode()
    assert "Support bot → Support bot v2" in changes
    assert "home_city" in changes


def test_credential_history_keeps_no_ciphertext_or_key(admin, environment):
    credential = environment.credential
    credential.set_api_key("braze-new-key-canary-Zz99")
    credential.save()

    field_names = {field.name for field in BrazeCredential.history.model._meta.fields}
    history = admin.get(f"/admin/mappings/brazecredential/{credential.pk}/history/")
    record = credential.history.latest()
    record_page = admin.get(
        f"/admin/mappings/brazecredential/{credential.pk}/history/{record.pk}/"
    ).content.decode()

    assert "api_key_ciphertext" not in field_names
    assert record.api_key_last4 == "Zz99"
    for page in (history.content.decode(), record_page):
        assert BRAZE_KEY not in page and "braze-new-key-canary-Zz99" not in page


def test_api_client_history_keeps_no_token_hash(admin, api_token):
    client = ApiClient.objects.get()
    client.issue_token()
    client.save()

    assert "token_hash" not in {field.name for field in ApiClient.history.model._meta.fields}
    assert client.history.count() == 2


def test_the_roles_exist_after_migrate_with_the_right_powers(db):
    auditor = Group.objects.get(name=AUDITOR)
    admin = Group.objects.get(name=INTEGRATION_ADMIN)
    auditor_perms = set(auditor.permissions.values_list("codename", flat=True))
    admin_perms = set(admin.permissions.values_list("codename", flat=True))

    assert "view_delivery" in auditor_perms and "view_historicalmappingset" in auditor_perms
    assert not any(p.startswith(("add_", "change_", "delete_")) for p in auditor_perms)
    assert "replay_delivery" not in auditor_perms
    assert {"change_mappingset", "replay_delivery", "view_delivery"} <= admin_perms
    assert "change_delivery" not in admin_perms


def test_an_environment_change_made_in_the_shell_is_still_recorded(environment):
    Environment.objects.filter(pk=environment.pk).get().save()
    environment.rest_endpoint = "https://rest.iad-01.braze.com"
    environment.save()

    latest = environment.history.latest()
    assert latest.history_user is None
    assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["rest_endpoint"]
