"""Mapping problems as tables: on the delivery page (with a link to fix the mapping with that
conversation) and in the draft preview; nothing shown as raw JSON or "null"."""

import re

import pytest

from mappings.log_pages.redaction import MASK
from mappings.models import Delivery, FieldMapping
from tests.admin_forms import mapping_set_change_form
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(ingest, mapping_set, braze) -> Delivery:
    conversation = conversation_for("u-9")
    conversation["user"]["profile"]["email"] = "not-an-email"
    ingest.post("support-bot", conversation)
    return Delivery.objects.get(external_id="u-9")


def problem_table(page: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def test_a_rejected_delivery_shows_its_problems_as_a_table_and_no_null_body(admin_client, rejected):
    assert rejected.status == "rejected"

    page = admin_client.get(f"/admin/logs/deliveries/{rejected.pk}/").content.decode()

    [row] = problem_table(page, "mapping-problems")
    assert row[:4] == ["row 1 → email", "user.profile.email", "not-an-email", "invalid"]
    assert "email" in row[4]
    assert "Nothing was sent to Braze: the mapping rejected this conversation" in page
    assert 'id="braze-json"' not in page and "null" not in page


def test_a_problem_value_of_a_row_marked_sensitive_since_is_masked(admin_client, rejected):
    FieldMapping.objects.filter(target_attribute="email").update(is_sensitive=True)

    page = admin_client.get(f"/admin/logs/deliveries/{rejected.pk}/").content.decode()

    [row] = problem_table(page, "mapping-problems")
    assert row[2] == MASK
    assert "not-an-email" not in page.split('id="mapping-problems"')[1].split("</table>")[0]


def test_the_fix_link_opens_the_mapping_with_that_conversation_picked(admin_client, rejected):
    page = admin_client.get(f"/admin/logs/deliveries/{rejected.pk}/").content.decode()
    link = re.search(r'href="([^"]+)" id="fix-mapping"', page)[1].replace("&amp;", "&")

    response = admin_client.get(link)

    assert link.startswith(f"/admin/mappings/mappingset/{rejected.mapping_set_id}/change/")
    assert response.context["default_sample"] == rejected
    assert re.search(rf'<option value="{rejected.pk}" selected>', response.content.decode())
    assert 'data-on-load="1"' in response.content.decode()


def test_the_change_page_without_a_delivery_asked_does_not_preview_on_load(
    admin_client, mapping_set
):
    page = admin_client.get(f"/admin/mappings/mappingset/{mapping_set.pk}/change/")

    assert 'data-on-load="1"' not in page.content.decode()


def test_the_draft_preview_of_a_rejected_conversation_lists_its_problems(admin_client, rejected):
    mapping_set = rejected.mapping_set
    data = mapping_set_change_form(mapping_set, preview_delivery=str(rejected.pk))

    response = admin_client.post(
        f"/admin/mappings/mappingset/{mapping_set.pk}/preview-changes/", data
    )

    [row] = problem_table(response.content.decode(), "preview-sample-problems")
    assert row[1:4] == ["user.profile.email", "not-an-email", "invalid"]
