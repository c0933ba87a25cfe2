"""Admin pages: configuration forms keep secrets write-only; audit pages are read-only."""

import re
from datetime import date

import pytest
from django.contrib.auth.models import Permission, User

from mappings.models import ApiClient, BrazeCredential, DeliveryAttempt, Environment
from mappings.models.config import hash_token
from tests.admin_forms import mapping_set_change_form
from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-unused-1")
    client.force_login(user)
    return client


@pytest.fixture
def delivered(ingest, conversation):
    ingest.post("support-bot", conversation)
    return DeliveryAttempt.objects.get()


def test_an_environment_with_a_non_braze_endpoint_is_refused(admin):
    response = admin.post(
        "/admin/mappings/environment/add/",
        {"name": "prod", "rest_endpoint": "http://169.254.169.254"},
    )

    assert response.status_code == 200
    assert "Loopback" in response.content.decode() or "Braze" in response.content.decode()
    assert not Environment.objects.filter(name="prod").exists()


def test_the_environment_form_suggests_brazes_rest_hosts(admin):
    page = admin.get("/admin/mappings/environment/add/").content.decode()

    assert '<datalist id="braze-endpoints">' in page
    assert "https://rest.fra-01.braze.eu" in page


def test_a_credential_is_saved_encrypted_and_shown_masked(admin, settings):
    environment = Environment.objects.create(
        name="prod", rest_endpoint="https://rest.iad-01.braze.com"
    )

    response = admin.post(
        "/admin/mappings/brazecredential/add/",
        {"environment": environment.pk, "api_key": BRAZE_KEY},
    )

    assert response.status_code == 302
    credential = BrazeCredential.objects.get()
    assert credential.api_key() == BRAZE_KEY
    assert BRAZE_KEY not in credential.api_key_ciphertext
    for url in [
        "/admin/mappings/brazecredential/",
        f"/admin/mappings/brazecredential/{credential.pk}/change/",
        "/admin/mappings/environment/",
    ]:
        page = admin.get(url).content.decode()
        assert BRAZE_KEY not in page
        assert "••••7Qx9" in page


def test_leaving_the_key_blank_on_edit_keeps_the_current_key(admin, environment):
    credential = environment.credential

    admin.post(
        f"/admin/mappings/brazecredential/{credential.pk}/change/",
        {"environment": environment.pk, "api_key": ""},
    )

    assert BrazeCredential.objects.get().api_key() == BRAZE_KEY


def test_an_api_client_token_is_shown_once_and_stored_only_as_a_hash(admin, mapping_set):
    response = admin.post(
        "/admin/mappings/apiclient/add/",
        {"name": "Rasa prod", "is_active": "on", "mapping_sets": [mapping_set.pk]},
    )

    page = response.content.decode()
    token = re.search(r'<code class="issued-token">([^<]+)</code>', page).group(1)
    client = ApiClient.objects.get(name="Rasa prod")
    assert client.token_hash == hash_token(token)
    assert token not in admin.get(f"/admin/mappings/apiclient/{client.pk}/change/").content.decode()
    assert "no-store" in response["Cache-Control"]


def test_issuing_a_new_token_revokes_the_old_one(admin, api_token, ingest, conversation):
    client = ApiClient.objects.get()

    response = admin.post(
        "/admin/mappings/apiclient/",
        {"action": "issue_new_token", "_selected_action": [client.pk]},
    )

    new_token = re.search(r'class="issued-token">([^<]+)<', response.content.decode()).group(1)
    assert ingest.post("support-bot", conversation).status_code == 401
    assert ingest.post("support-bot", conversation, token=new_token).status_code == 200


def test_the_braze_call_log_lists_the_call_with_its_response(admin, delivered):
    listing = admin.get("/admin/mappings/deliveryattempt/").content.decode()
    detail = admin.get(f"/admin/mappings/deliveryattempt/{delivered.pk}/change/").content.decode()

    assert "support-bot" in listing or "Support bot" in listing
    assert "201" in listing
    assert "&quot;message&quot;: &quot;success&quot;" in detail
    assert "zoe@example.com" in detail
    assert BRAZE_KEY not in listing + detail


@pytest.mark.parametrize(
    "query",
    ["outcome__exact=success", "response_status=201", f"created_at__year={date.today().year}"],
)
def test_the_braze_call_log_filters(admin, delivered, query):
    page = admin.get(f"/admin/mappings/deliveryattempt/?{query}").content.decode()

    assert f"/admin/mappings/deliveryattempt/{delivered.pk}/change/" in page


def test_a_filter_that_matches_nothing_hides_the_call(admin, delivered):
    page = admin.get("/admin/mappings/deliveryattempt/?outcome__exact=failed").content.decode()

    assert f"/admin/mappings/deliveryattempt/{delivered.pk}/change/" not in page


def test_the_delivery_page_shows_the_received_conversation_and_the_mapped_body(admin, delivered):
    page = admin.get(f"/admin/mappings/delivery/{delivered.delivery_id}/change/").content.decode()

    assert "Received conversation" in page
    assert "Mapped Braze body" in page
    assert "Lisbon" in page


def test_audit_rows_cannot_be_added_changed_or_deleted(admin, delivered):
    assert admin.get("/admin/mappings/deliveryattempt/add/").status_code == 403
    assert admin.get(f"/admin/mappings/deliveryattempt/{delivered.pk}/delete/").status_code == 403
    response = admin.post(
        f"/admin/mappings/deliveryattempt/{delivered.pk}/change/", {"outcome": "failed"}
    )
    assert response.status_code == 403
    assert DeliveryAttempt.objects.get().outcome == "success"


def test_staff_with_only_view_permission_can_read_the_log(client, delivered):
    auditor = User.objects.create_user("auditor", password="pw-unused-2", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_deliveryattempt"))
    client.force_login(auditor)

    assert client.get("/admin/mappings/deliveryattempt/").status_code == 200
    assert client.get("/admin/mappings/environment/").status_code == 403


def test_the_log_pages_require_login(client, delivered):
    response = client.get("/admin/mappings/deliveryattempt/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_publishing_an_edited_mapping_set_bumps_its_version(admin, mapping_set):
    form = mapping_set_change_form(mapping_set, braze_partner="pypestream", _publish="Publish")

    response = admin.post(f"/admin/mappings/mappingset/{mapping_set.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    mapping_set.refresh_from_db()
    assert mapping_set.braze_partner == "pypestream"
    assert mapping_set.version == 2


def test_the_replay_action_queues_failed_deliveries_as_attempts_by_the_admin(admin, ingest, braze):
    from mappings.delivery import worker
    from mappings.fake_braze import Fault
    from mappings.models import Delivery

    braze.add_fault(Fault(status=400, times=1))
    failed_id = ingest.post("support-bot", {"user": {"id": "u1", "profile": {
        "email": "a@example.com", "first_name": "A"}}}).json()["delivery_id"]  # fmt: skip

    response = admin.post(
        "/admin/mappings/delivery/",
        {"action": "replay_selected", "_selected_action": [failed_id]},
        follow=True,
    )
    worker.drain_all()

    assert "1 queued for replay" in response.content.decode()
    delivery = Delivery.objects.get(pk=failed_id)
    assert delivery.status == "delivered"
    assert delivery.attempts.get(attempt_number=2).triggered_by.username == "root"
