"""Re-mapping replay: a stored conversation through the current mapping, sent as a new attempt
that records the mapping version that made its body; its confirmation page; its permission."""

import time

import pytest

from mappings.delivery import worker
from mappings.models import Delivery, DeliveryAttempt, FieldMapping, MappingSet
from mappings.models.audit import DeliveryStatus
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.log_rows import for_user, logged_delivery
from tests.staff import logged_in

pytestmark = pytest.mark.django_db


def _staff(client, django_user_model, name: str, group: str):
    return logged_in(client, name, group)


@pytest.fixture
def operator(client, django_user_model):
    return _staff(client, django_user_model, "oscar", INTEGRATION_ADMIN)


@pytest.fixture
def auditor(client, django_user_model):
    return _staff(client, django_user_model, "audrey", AUDITOR)


def renamed_email(conversation: dict) -> dict:
    """The bot now sends the email under ``mail``: the fixture's mapping rejects it (required)."""
    profile = {"mail": "zoe@example.com", "first_name": "Zoë"}
    return {**conversation, "user": {**conversation["user"], "profile": profile}}


@pytest.fixture
def rejected(ingest, mapping_set, conversation, braze) -> Delivery:
    response = ingest.post("support-bot", renamed_email(conversation))
    assert response.status_code == 422, response.content
    assert braze.received == []
    return Delivery.objects.get(status=DeliveryStatus.REJECTED)


def fix_the_mapping(mapping_set: MappingSet) -> int:
    """Point the email row at where the bot sends it now, as a new mapping version."""
    FieldMapping.objects.filter(target_attribute="email").update(source_path="user.profile.mail")
    mapping_set.bump_version()
    return mapping_set.version


def drain_until_answered(delivery: Delivery) -> DeliveryAttempt:
    """Tests have no background worker: drain, bounded, until the newest attempt is answered."""
    deadline = time.monotonic() + 5
    while True:
        worker.drain_all(max_seconds=2)
        attempt = delivery.attempts.order_by("-attempt_number").first()
        if attempt is not None and attempt.response_status is not None:
            return attempt
        if time.monotonic() > deadline:
            raise AssertionError(f"no answered attempt for {delivery.pk}")
        time.sleep(0.05)


def test_a_rejected_delivery_re_mapped_after_the_fix_reaches_braze_with_the_new_version(
    operator, rejected, mapping_set, braze
):
    version = fix_the_mapping(mapping_set)

    response = operator.post(f"/admin/logs/deliveries/{rejected.pk}/remap/")

    assert response.status_code == 302
    attempt = drain_until_answered(rejected)
    assert attempt.response_status == 201
    assert attempt.mapping_version == version and version > rejected.mapping_version
    assert attempt.triggered_by.username == "oscar"
    sent = braze.received[-1].body["attributes"][0]
    assert sent["external_id"] == "u-42" and sent["email"] == "zoe@example.com"
    assert attempt.request_body == braze.received[-1].body
    delivery = Delivery.objects.get(pk=rejected.pk)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.mapping_version, delivery.problems) == (version, [])


def test_a_failed_delivery_is_re_mapped_while_its_first_attempt_keeps_the_old_body(
    operator, mapping_set, conversation, braze
):
    failed = logged_delivery(mapping_set, conversation, http_status=503)
    FieldMapping.objects.filter(target_attribute="home_city").update(transforms=["upper"])
    version = (mapping_set.bump_version(), mapping_set.version)[1]

    operator.post(f"/admin/logs/deliveries/{failed.pk}/remap/")

    attempt = drain_until_answered(failed)
    first = failed.attempts.get(attempt_number=1)
    assert braze.received[-1].body["attributes"][0]["home_city"] == "LISBON"
    assert first.request_body["attributes"][0]["home_city"] == "Lisbon"
    assert (attempt.attempt_number, attempt.mapping_version) == (2, version)


def test_a_replay_of_the_stored_body_records_the_version_that_made_it(
    operator, mapping_set, conversation, braze
):
    failed = logged_delivery(mapping_set, conversation, http_status=503)
    fix_the_mapping(mapping_set)

    operator.post(f"/admin/logs/deliveries/{failed.pk}/replay/")

    attempt = drain_until_answered(failed)
    assert attempt.mapping_version == failed.mapping_version == 1
    assert braze.received[-1].body["attributes"][0]["email"] == "zoe@example.com"


def test_a_delivery_the_current_mapping_still_rejects_is_reported_and_not_sent(
    operator, rejected, braze
):
    response = operator.post(f"/admin/logs/deliveries/{rejected.pk}/remap/", follow=True)

    page = response.content.decode()
    assert "still rejects it" in page and "email" in page
    worker.drain_all(max_seconds=1)
    assert braze.received == []
    delivery = Delivery.objects.get(pk=rejected.pk)
    assert delivery.status == DeliveryStatus.REJECTED and delivery.attempts.count() == 0


def test_the_confirmation_page_counts_what_would_map_and_shows_a_per_field_diff(
    operator, ingest, rejected, mapping_set, conversation, braze
):
    still_bad = {**conversation, "user": {"id": "u-9", "profile": {"first_name": "Ana"}}}
    assert ingest.post("support-bot", still_bad).status_code == 422
    fix_the_mapping(mapping_set)
    fixed = for_user(renamed_email(conversation), "u-7")
    failed = logged_delivery(mapping_set, fixed, http_status=503)

    page = operator.get("/admin/logs/deliveries/remap/").content.decode()

    assert '<strong id="remap-would-map">2</strong>' in page  # the fixed rejection, the failure
    assert '<strong id="remap-still-rejected">1</strong>' in page  # no email at all
    assert "<strong>3</strong> failed, dead or rejected deliveries" in page
    # The rejected one had no body: each field it would now send is added, the outcome changed.
    assert (
        '<tr class="change-added" data-change="added"><td><code>attributes.email</code></td>'
        "<td>\u2013</td><td>zoe@example.com</td>" in page
    )
    assert '<tr class="change-changed" data-change="changed"><td><code>outcome</code></td>' in page
    # The failed one was mapped by the fixed version already: the same body.
    assert 'data-change="same"><td><code>attributes.home_city</code></td><td>Lisbon</td>' in page
    assert "required field is missing" in page  # why u-9 is still rejected
    assert braze.received == [] and failed.attempts.count() == 1  # nothing sent by looking


def test_a_bulk_re_map_sends_the_ones_that_map_and_counts_the_rest(
    operator, ingest, rejected, mapping_set, conversation, braze
):
    still_bad = {**conversation, "user": {"id": "u-9", "profile": {"first_name": "Ana"}}}
    assert ingest.post("support-bot", still_bad).status_code == 422
    fix_the_mapping(mapping_set)

    response = operator.post("/admin/logs/deliveries/remap/?status=rejected", follow=True)

    assert "Re-mapped and queued 1 deliveries; 1 still rejected." in response.content.decode()
    drain_until_answered(rejected)
    assert [request.body["attributes"][0]["external_id"] for request in braze.received] == ["u-42"]
    assert Delivery.objects.get(external_id="u-9").status == DeliveryStatus.REJECTED


def test_the_delivery_page_offers_both_replays_with_the_current_version(
    operator, mapping_set, conversation, rejected, braze
):
    failed = logged_delivery(mapping_set, conversation, http_status=503)
    version = fix_the_mapping(mapping_set)

    failed_page = operator.get(f"/admin/logs/deliveries/{failed.pk}/").content.decode()
    rejected_page = operator.get(f"/admin/logs/deliveries/{rejected.pk}/").content.decode()

    assert "Replay with the stored body" in failed_page
    assert f"Re-map with the current mapping (v{version}) and send" in failed_page
    assert "Replay with the stored body" not in rejected_page  # it has no body to replay
    assert f"Re-map with the current mapping (v{version}) and send" in rejected_page


def test_a_user_without_the_replay_permission_can_neither_preview_nor_re_map(
    auditor, rejected, mapping_set, braze
):
    fix_the_mapping(mapping_set)

    assert auditor.get(f"/admin/logs/deliveries/{rejected.pk}/remap/").status_code == 403
    assert auditor.post(f"/admin/logs/deliveries/{rejected.pk}/remap/").status_code == 403
    assert auditor.post("/admin/logs/deliveries/remap/").status_code == 403
    page = auditor.get(f"/admin/logs/deliveries/{rejected.pk}/").content.decode()
    assert "Re-map with the current mapping" not in page
    assert Delivery.objects.get(pk=rejected.pk).status == DeliveryStatus.REJECTED


def test_the_sample_diff_masks_sensitive_values_as_the_delivery_page_does(
    operator, rejected, mapping_set, braze
):
    fix_the_mapping(mapping_set)
    FieldMapping.objects.filter(target_attribute="email").update(is_sensitive=True)

    page = operator.get(f"/admin/logs/deliveries/{rejected.pk}/remap/").content.decode()

    assert "<code>attributes.email</code>" in page and "masked" in page
    assert "zoe@example.com" not in page
    assert "Zoë" in page  # other attributes stay readable
