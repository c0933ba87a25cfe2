"""A real browser (Debian's headless Chromium) reviews a Braze call in the admin log."""

import json
import os

import pytest

from tests.conftest import BRAZE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the same
    # test thread are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "browser-test-pw-1")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-test-pw-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    yield page
    context.close()


def test_an_admin_finds_a_braze_call_and_reads_its_response(
    page, live_server, ingest, conversation
):
    ingest.post("support-bot", conversation)

    page.goto(f"{live_server.url}/admin/mappings/deliveryattempt/")
    page.click("text=Success")  # the outcome filter in the sidebar
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.locator("th a").click()
    page.wait_for_selector("pre.bridge-json")

    body = page.content()
    assert "Braze response body" in body
    assert "success" in page.locator("pre.bridge-json").last.inner_text()
    assert "zoe@example.com" in page.locator("pre.bridge-json").first.inner_text()
    assert BRAZE_KEY not in body


def test_the_credential_page_never_shows_the_key(page, live_server, environment):
    page.goto(
        f"{live_server.url}/admin/mappings/brazecredential/{environment.credential.pk}/change/"
    )

    assert "••••7Qx9" in page.content()
    assert page.locator("input[name=api_key]").input_value() == ""
    assert BRAZE_KEY not in page.content()


def test_an_admin_previews_a_mapping_side_by_side_with_a_sample(page, live_server, mapping_set):
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    page.click("#preview-link")
    page.wait_for_selector("#sample")
    sample = {"user": {"id": "u-7", "profile": {"email": "ana@example.com", "first_name": "Ana"}},
              "answers": {"city": ["not", "a", "city"]}}  # fmt: skip
    page.fill("#sample", json.dumps(sample))
    page.click("#run-preview")
    page.wait_for_selector("#verdict")

    assert "Would reject" in page.inner_text("#verdict")
    assert "home_city" in page.inner_text("#preview-problems")

    sample["answers"]["city"] = "Porto"
    page.fill("#sample", json.dumps(sample))
    page.click("#run-preview")
    page.wait_for_selector("#verdict")

    assert "Would send" in page.inner_text("#verdict")
    shown = json.loads(page.inner_text("#preview-payload"))
    assert shown["payload"]["attributes"][0] == {
        "external_id": "u-7", "email": "ana@example.com", "first_name": "Ana",
        "home_city": "Porto",
    }  # fmt: skip
    assert page.locator("#sample").input_value() == json.dumps(sample)  # input stays beside it
