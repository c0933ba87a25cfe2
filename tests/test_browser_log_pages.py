"""A real browser: auditor and admin filter the log, open a delivery; the admin replays it,
with the stored body or re-mapped with the current mapping."""

import time

import pytest

from mappings.delivery import worker
from mappings.models import Delivery, FieldMapping
from mappings.models.audit import DeliveryStatus
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.conftest import BRAZE_KEY
from tests.log_rows import for_user, logged_delivery
from tests.staff import staff_member
from tests.test_browser_admin import browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pw-1"


@pytest.fixture
def log_in(browser, live_server, django_user_model):  # noqa: F811
    contexts = []

    def log_in_as(username: str, group: str):
        staff_member(username, group, PASSWORD)
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        return page

    yield log_in_as
    for context in contexts:
        context.close()


@pytest.fixture
def one_failed_one_delivered(mapping_set, conversation, braze):
    logged_delivery(mapping_set, for_user(conversation, "u-ok"), http_status=201)
    logged_delivery(mapping_set, conversation, http_status=503)


def _open_the_failed_delivery(page, live_server):
    page.click("#user-tools >> text=Deliveries")  # the link every admin page carries
    page.select_option("#id_status", "failed")
    page.click("#log-filters input[type=submit]")
    rows = page.locator("#log-rows tbody tr")
    assert rows.count() == 1
    assert "u-42" in rows.first.inner_text()
    rows.first.locator("a").first.click()
    page.wait_for_selector("#received-json")


def _wait_for_text(page, selector: str, text: str, seconds: float = 5) -> None:
    """Replay queues the delivery: let the worker run (tests have no background thread) and
    reload (bounded) until the new attempt shows."""
    deadline = time.monotonic() + seconds
    while text not in page.locator(selector).inner_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {selector}"
        worker.drain_all(max_seconds=2)
        page.reload()


def test_an_auditor_reads_a_failed_delivery_but_is_offered_no_replay(
    log_in, live_server, one_failed_one_delivered
):
    page = log_in("audrey", AUDITOR)

    _open_the_failed_delivery(page, live_server)

    assert "Service Unavailable" in page.content() or "503" in page.content()
    assert page.locator("#replay-button").count() == 0
    assert BRAZE_KEY not in page.content()


def test_an_admin_replays_a_failed_delivery_and_sees_the_new_attempt(
    log_in, live_server, one_failed_one_delivered, braze
):
    page = log_in("oscar", INTEGRATION_ADMIN)
    _open_the_failed_delivery(page, live_server)
    assert page.locator("details.attempt").count() == 1

    page.click("#replay-button")

    _wait_for_text(page, "#delivery-status", "Delivered")
    assert page.locator("details.attempt").count() == 2
    summary = page.locator("#attempt-2 > summary").inner_text()
    assert "replayed by oscar" in summary
    assert "HTTP 201" in summary
    assert braze.accepted_objects("attributes")[-1]["external_id"] == "u-42"


def test_an_admin_re_maps_a_rejected_delivery_after_fixing_the_mapping(
    log_in, live_server, mapping_set, conversation, braze
):
    rejected = Delivery.objects.create(
        mapping_set=mapping_set, environment=mapping_set.environment, mapping_version=1,
        status=DeliveryStatus.REJECTED, received_payload=conversation,
    )  # fmt: skip
    FieldMapping.objects.filter(target_attribute="home_city").update(transforms=["upper"])
    mapping_set.bump_version()
    page = log_in("oscar", INTEGRATION_ADMIN)
    page.goto(f"{live_server.url}/admin/logs/deliveries/{rejected.pk}/")
    assert page.locator("#replay-button").count() == 0  # no stored body to replay

    page.click("#remap-button")
    assert "1</strong> would map" in page.content()
    added = page.locator(".remap-sample tr.change-added").all_inner_texts()
    assert any("home_city" in row and "LISBON" in row for row in added)
    page.click("#remap-confirm")

    _wait_for_text(page, "#delivery-status", "Delivered")
    assert braze.accepted_objects("attributes")[-1]["home_city"] == "LISBON"
