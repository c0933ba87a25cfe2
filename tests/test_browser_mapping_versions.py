"""A real browser (headless Chromium) changes a row, previews it, sees the change, publishes."""

import pytest

from mappings.management import config_io
from mappings.models import FieldMapping, MappingVersion
from tests import test_browser_admin
from tests.conftest import conversation_for

# The same Chromium and logged-in page as the admin browser tests.
browser = test_browser_admin.browser
page = test_browser_admin.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_previews_a_row_change_sees_it_highlighted_and_publishes_it(
    page,
    live_server,
    mapping_set,
    ingest,
    braze,
):
    config_io.record_version(mapping_set, "", None)
    ingest.post("support-bot", conversation_for("u-7", city="Porto"))
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")

    page.locator("#rows-2 select.transform-add").select_option("upper")
    page.click("#preview-changes")
    changed = page.wait_for_selector("#preview-fields tr.change-changed")

    assert "attributes.home_city" in changed.inner_text()
    assert "PORTO" in changed.inner_text()
    cell = changed.query_selector("td")
    background = cell.evaluate("td => getComputedStyle(td).backgroundColor")
    assert background == "rgb(255, 243, 205)"  # the highlight, not the table's own colour
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == []

    page.fill("#publish-note", "Cities in capitals")
    page.click("#publish")
    page.wait_for_selector("#live-version")

    assert "Live: v2" in page.inner_text("#live-version")
    assert MappingVersion.live(mapping_set).note == "Cities in capitals"
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == ["upper"]


def test_leaving_the_page_with_unsaved_edits_asks_first(page, live_server, mapping_set):
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    page.fill("#id_name", "Edited, not saved")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))

    page.click("#versions-link")

    assert asked == ["beforeunload"]
    assert page.url.endswith("/change/")
