"""A real browser (headless Chromium) does a CRM admin's whole task with the row editor, no JSON.

Screenshots of each step go to docs/images/tutorial-*.png (1280x900), for the tutorial.
"""

from pathlib import Path

import pytest

from mappings.management import config_io
from mappings.models import Delivery, FieldMapping, MappingVersion
from tests import test_browser_admin

browser = test_browser_admin.browser
page = test_browser_admin.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def _conversation(user_id: str) -> dict:
    return {
        "user": {
            "id": user_id,
            "profile": {"email": f"{user_id}@example.com", "first_name": "Zoë"},
        },
        "answers": {"town": "  Porto  ", "mobile": "11 98765-4321", "country": "BR"},
    }


def _shot(page, name: str) -> None:
    page.screenshot(path=str(IMAGES / f"tutorial-{name}.png"), full_page=False)


def _row(page, index: int):
    return page.locator(f"#rows-{index}")


def test_an_admin_maps_two_rows_with_clicks_previews_publishes_and_finds_the_version(
    page, live_server, mapping_set, ingest, braze
):
    FieldMapping.objects.filter(target_attribute="home_city").delete()
    config_io.record_version(mapping_set, "", None)
    ingest.post("support-bot", _conversation("u-1"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    page.locator("#rows-group").scroll_into_view_if_needed()
    _shot(page, "01-rows")

    city = _row(page, 3)  # the blank row at the end of the three saved ones
    city.locator("input[name$='-source_path']").fill("answers.town")
    city.locator("select.target-kind").select_option("standard:home_city")
    city.locator("select.transform-add").select_option("trim")
    assert "text, at most 255 characters" in city.locator(".target-format").inner_text()

    page.click("#rows-group .add-row a")
    phone = _row(page, 4)
    phone.locator("input[name$='-source_path']").fill("answers.mobile")
    phone.locator("select.target-kind").select_option("standard:phone")
    phone.locator("select.transform-add").select_option("phone")
    phone.locator("input[data-option=region_from]").fill("answers.country")
    phone.locator("select.target-kind").scroll_into_view_if_needed()
    _shot(page, "02-new-rows")

    page.click("#preview-changes")
    added = page.wait_for_selector("#preview-fields tr.change-added")
    fields = page.inner_text("#preview-fields")
    assert "Porto" in fields and "  Porto" not in fields
    assert "+5511987654321" in fields
    background = added.query_selector("td").evaluate("td => getComputedStyle(td).backgroundColor")
    assert background == "rgb(230, 244, 230)"  # the added-field highlight
    page.locator("#preview-changes-output").scroll_into_view_if_needed()
    _shot(page, "03-preview")

    page.fill("#publish-note", "City and phone from the bot")
    page.click("#publish")
    page.wait_for_selector("#live-version")

    rows = {
        row.target_attribute: row for row in FieldMapping.objects.filter(mapping_set=mapping_set)
    }
    assert rows["home_city"].transforms == ["trim"]
    assert rows["phone"].transforms == [{"name": "phone", "region_from": "answers.country"}]
    assert [row.target_attribute for row in mapping_set.rows.all()][-2:] == ["home_city", "phone"]
    published = MappingVersion.live(mapping_set)

    ingest.post("support-bot", _conversation("u-2"))
    delivery = Delivery.objects.get(external_id="u-2")
    page.goto(f"{live_server.url}/admin/logs/deliveries/")
    page.click(f"a[href$='/deliveries/{delivery.pk}/']")
    page.wait_for_selector("#mapping-version-link")
    _shot(page, "04-delivery")
    page.click("#mapping-version-link")

    page.wait_for_selector("h1")
    assert f"/versions/{published.number}/" in page.url
    assert "City and phone from the bot" in page.content()
    _shot(page, "05-version")


def test_a_rejected_delivery_links_to_the_preview_with_its_conversation_loaded(
    page, live_server, mapping_set, ingest, braze
):
    config_io.record_version(mapping_set, "", None)
    conversation = _conversation("u-3")
    conversation["user"]["profile"]["email"] = "not-an-email"
    ingest.post("support-bot", conversation)
    ingest.post("support-bot", _conversation("u-4"))  # newer, accepted: not the default pick
    rejected = Delivery.objects.get(external_id="u-3")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/logs/deliveries/{rejected.pk}/")

    assert "not-an-email" in page.inner_text("#mapping-problems")
    assert "Nothing was sent to Braze" in page.inner_text("#braze-json-none")
    _shot(page, "06-rejected")
    page.click("#fix-mapping")

    problems = page.wait_for_selector("#preview-sample-problems")
    assert "user.profile.email" in problems.inner_text()
    assert page.input_value("#preview-delivery") == str(rejected.pk)
    assert "would reject" in page.inner_text("#preview-verdict")


def test_steps_are_reordered_and_a_lookup_table_is_filled_in_pairs_then_shown_as_json(
    page, live_server, mapping_set
):
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    identifier = page.locator(".field-identifier_transforms")
    identifier.locator("select.transform-add").select_option("trim")
    identifier.locator("select.transform-add").select_option("lookup")
    identifier.locator(".table-key").fill("sim")
    identifier.locator(".table-value").fill("yes")
    identifier.locator("button[title='Move up']").click()  # lookup before trim

    identifier.locator(".transforms-toggle").click()

    textarea = page.locator("#id_identifier_transforms")
    assert textarea.is_visible()
    assert textarea.input_value() == '[{"name":"lookup","table":{"sim":"yes"}},"trim"]'
    textarea.fill('["upper"]')
    identifier.locator(".transforms-toggle").click()
    assert not textarea.is_visible()
    assert identifier.locator("select.transform-kind").input_value() == "upper"
