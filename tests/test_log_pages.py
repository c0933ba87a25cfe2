"""Log pages: lists with filters and keyset pages, the detail page, replay, dashboard and roles."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mappings.delivery import worker
from mappings.models import Delivery, DeliveryAttempt, FieldMapping, MappingSet
from mappings.models.audit import DeliveryStatus
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.conftest import BRAZE_KEY
from tests.log_rows import for_user, logged_delivery
from tests.staff import staff_member

pytestmark = pytest.mark.django_db


def _staff(django_user_model, name: str, group: str):
    return staff_member(name, group)


@pytest.fixture
def auditor(client, django_user_model):
    client.force_login(_staff(django_user_model, "audrey", AUDITOR))
    return client


@pytest.fixture
def operator(client, django_user_model):
    client.force_login(_staff(django_user_model, "oscar", INTEGRATION_ADMIN))
    return client


@pytest.fixture
def failed(mapping_set, conversation, braze) -> Delivery:
    return logged_delivery(mapping_set, conversation, http_status=503)


def wait_for_attempts(delivery: Delivery, count: int) -> list[DeliveryAttempt]:
    """Replay queues the delivery: run the worker (tests have no background thread) and poll,
    bounded, until the new attempt has an answer."""
    deadline = time.monotonic() + 5
    while True:
        worker.drain_all(max_seconds=2)
        attempts = list(delivery.attempts.order_by("attempt_number"))
        if len(attempts) >= count and attempts[-1].response_status is not None:
            return attempts
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} answered attempts, found {attempts}")
        time.sleep(0.05)


def test_the_delivery_list_shows_newest_first_and_filters_by_outcome(
    operator, mapping_set, conversation
):
    logged_delivery(mapping_set, conversation, http_status=201)
    logged_delivery(mapping_set, for_user(conversation, "u-7"), http_status=503)

    everything = operator.get("/admin/logs/deliveries/").content.decode()
    failed_only = operator.get("/admin/logs/deliveries/?status=failed").content.decode()

    assert everything.index("u-7") < everything.index("u-42")
    assert "u-7" in failed_only
    assert "u-42" not in failed_only


def test_the_delivery_list_searches_by_user_delivery_id_and_idempotency_key(
    operator, mapping_set, conversation
):
    logged_delivery(mapping_set, conversation, http_status=201)
    logged_delivery(mapping_set, for_user(conversation, "u-7"), http_status=201)
    first = Delivery.objects.get(external_id="u-42")
    Delivery.objects.filter(pk=first.pk).update(idempotency_key="idem-abc")

    by_user = operator.get("/admin/logs/deliveries/?q=u-7").content.decode()
    by_id = operator.get(f"/admin/logs/deliveries/?q={first.pk}").content.decode()
    by_key = operator.get("/admin/logs/deliveries/?q=idem-abc").content.decode()

    assert "u-7" in by_user and "u-42" not in by_user
    assert "u-42" in by_id and "u-7" not in by_id
    assert "u-42" in by_key and "u-7" not in by_key


def test_the_lists_filter_by_http_status_and_time_range(
    operator, failed, mapping_set, conversation
):
    logged_delivery(
        mapping_set, for_user(conversation, "u-9"), http_status=201,
        created_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip

    calls_503 = operator.get("/admin/logs/calls/?response_status=503").content.decode()
    deliveries_503 = operator.get("/admin/logs/deliveries/?http_status=503").content.decode()
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    recent = operator.get(f"/admin/logs/deliveries/?since={since}").content.decode()

    assert "u-42" in calls_503 and "u-9" not in calls_503
    assert "u-42" in deliveries_503 and "u-9" not in deliveries_503
    assert "u-42" in recent and "u-9" not in recent


def test_the_list_pages_through_every_row_once_without_counting(
    operator, mapping_set, settings, django_assert_max_num_queries
):
    settings.LOG_PAGE_SIZE = 2
    now = timezone.now()
    for number in range(5):
        delivery = Delivery.objects.create(
            mapping_set=mapping_set, environment=mapping_set.environment,
            external_id=f"user-{number}", received_payload={}, status=DeliveryStatus.DELIVERED,
        )  # fmt: skip
        Delivery.objects.filter(pk=delivery.pk).update(created_at=now - timedelta(minutes=number))

    seen, query = [], ""
    while True:
        response = operator.get(f"/admin/logs/deliveries/?{query}")
        page = response.content.decode()
        seen += [f"user-{n}" for n in range(5) if f">user-{n}<" in page]
        if response.context["older_query"] is None:
            break
        query = response.context["older_query"]

    assert seen == [f"user-{n}" for n in range(5)]
    with django_assert_max_num_queries(12) as captured:
        operator.get("/admin/logs/deliveries/")
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_the_detail_page_shows_bodies_and_brazes_error_against_its_record(
    operator, mapping_set, conversation
):
    partial = '{"message": "success", "errors": [{"type": "blocked", "input_array": "attributes", "index": 0}]}'  # noqa: E501
    delivery = logged_delivery(mapping_set, conversation, http_status=201, response_body=partial)

    page = operator.get(f"/admin/logs/deliveries/{delivery.pk}/").content.decode()

    assert "Received conversation JSON" in page
    assert "Mapped Braze body" in page
    assert "<code>attributes[0]</code>" in page
    assert "<td>blocked</td>" in page
    assert "zoe@example.com" in page  # not sensitive: shown
    assert f"v{delivery.mapping_version}" in page
    assert BRAZE_KEY not in page


def test_sensitive_values_are_masked_on_pages_and_in_csv_but_sent_in_full(
    operator, mapping_set, failed, braze
):
    FieldMapping.objects.filter(mapping_set=mapping_set, target_attribute="email").update(
        is_sensitive=True
    )
    operator.post(f"/admin/logs/deliveries/{failed.pk}/replay/")
    wait_for_attempts(failed, 2)
    delivery = failed

    detail = operator.get(f"/admin/logs/deliveries/{delivery.pk}/").content.decode()
    deliveries_csv = b"".join(operator.get("/admin/logs/deliveries.csv").streaming_content)
    calls_csv = b"".join(operator.get("/admin/logs/calls.csv").streaming_content)
    attempt = delivery.attempts.order_by("attempt_number").last()
    admin_page = operator.get(f"/admin/mappings/deliveryattempt/{attempt.pk}/change/")

    assert braze.accepted_objects("attributes")[0]["email"] == "zoe@example.com"
    for text in (detail, deliveries_csv.decode(), calls_csv.decode(), admin_page.content.decode()):
        assert "zoe@example.com" not in text
        assert "masked" in text
    assert "Zoë" in deliveries_csv.decode()  # other attributes stay readable


def test_an_admin_replays_a_failed_delivery_as_a_new_attempt_under_their_name(operator, failed):
    response = operator.post(f"/admin/logs/deliveries/{failed.pk}/replay/")

    assert response.status_code == 302
    attempts = wait_for_attempts(failed, 2)
    assert attempts[-1].triggered_by.username == "oscar"
    assert attempts[-1].response_status == 201
    page = operator.get(f"/admin/logs/deliveries/{failed.pk}/").content.decode()
    assert "replayed by <strong" in page


def test_a_bulk_replay_resends_the_failed_deliveries_of_the_filtered_view(
    operator, failed, mapping_set, conversation, braze
):
    logged_delivery(mapping_set, for_user(conversation, "u-7"), http_status=503)
    logged_delivery(mapping_set, for_user(conversation, "u-8"), http_status=201)

    confirm = operator.get("/admin/logs/deliveries/replay/?q=u-7").content.decode()
    operator.post("/admin/logs/deliveries/replay/?q=u-7")

    assert "1 failed or dead deliveries" in confirm
    wait_for_attempts(Delivery.objects.get(external_id="u-7"), 2)
    assert Delivery.objects.get(external_id="u-42").attempts.count() == 1


def test_an_auditor_reads_logs_and_config_but_cannot_replay_or_change_anything(
    auditor, failed, mapping_set
):
    assert auditor.get("/admin/logs/deliveries/").status_code == 200
    assert auditor.get(f"/admin/logs/deliveries/{failed.pk}/").status_code == 200
    assert auditor.get("/admin/logs/changes/").status_code == 200
    assert auditor.get(f"/admin/mappings/mappingset/{mapping_set.pk}/change/").status_code == 200
    credential_page = auditor.get(
        f"/admin/mappings/brazecredential/{mapping_set.environment.credential.pk}/change/"
    )
    assert BRAZE_KEY not in credential_page.content.decode()
    assert "Replay" not in auditor.get(f"/admin/logs/deliveries/{failed.pk}/").content.decode()

    assert auditor.post(f"/admin/logs/deliveries/{failed.pk}/replay/").status_code == 403
    assert auditor.post("/admin/logs/deliveries/replay/").status_code == 403
    change = auditor.post(
        f"/admin/mappings/mappingset/{mapping_set.pk}/change/", {"name": "Hijacked"}
    )
    assert change.status_code == 403
    assert auditor.post("/admin/mappings/environment/add/", {"name": "x"}).status_code == 403
    assert failed.attempts.count() == 1
    assert MappingSet.objects.get().name == "Support bot"


@pytest.mark.parametrize("action", ["issue_new_token", "issue_signing_secret", "disable_signing"])
def test_an_auditor_cannot_run_secret_issuing_actions_on_api_clients(auditor, api_token, action):
    from mappings.models import ApiClient

    client_before = ApiClient.objects.get()
    client_before.issue_signing_secret()
    client_before.save()
    response = auditor.post(
        "/admin/mappings/apiclient/",
        {"action": action, "_selected_action": [client_before.pk]},
    )

    assert response.status_code in (200, 302, 403)
    assert "issued-token" not in response.content.decode()
    client_after = ApiClient.objects.get()
    assert client_after.token_hash == client_before.token_hash
    assert client_after.signing_secret_ciphertext == client_before.signing_secret_ciphertext


def test_log_pages_are_for_staff_only(client, django_user_model, failed):
    user = django_user_model.objects.create_user("visitor", "v@example.com", "pw-unused-1")
    client.force_login(user)

    response = client.get("/admin/logs/deliveries/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_dashboard_shows_volumes_queue_errors_and_recent_failures(
    operator, failed, conversation, mapping_set
):
    logged_delivery(mapping_set, for_user(conversation, "u-7"), http_status=201)
    Delivery.objects.create(
        mapping_set=mapping_set, environment=mapping_set.environment, received_payload={},
        status=DeliveryStatus.PENDING,
    )  # fmt: skip

    for window in ("hour", "day", "week"):
        page = operator.get(f"/admin/logs/?window={window}").content.decode()
        assert "<svg" in page
        assert '<td class="success-rate">50%</td>' in page
    assert 'id="queue-depth">1<' in page
    assert "503" in page  # the top error reason
    assert f"/admin/logs/deliveries/{failed.pk}/" in page


def test_the_admin_links_to_the_log_pages(operator):
    page = operator.get("/admin/").content.decode()

    assert 'href="/admin/logs/deliveries/"' in page
    assert 'href="/admin/logs/"' in page
