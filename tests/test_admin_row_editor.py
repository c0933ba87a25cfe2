"""The row editor's server side: transforms typed without JSON, new rows last, errors that name
the row, and the engine's catalogue in the page (so the script repeats no list)."""

import json
import re

import pytest

from mappings.engine import catalogue, targets, transforms
from mappings.management import config_io
from mappings.models import FieldMapping
from tests.admin_forms import mapping_set_change_form
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


def change_url(mapping_set) -> str:
    return f"/admin/mappings/mappingset/{mapping_set.pk}/change/"


def publish(admin_client, mapping_set, **changes):
    data = mapping_set_change_form(mapping_set, _publish="Publish", **changes)
    return admin_client.post(change_url(mapping_set), data)


def new_row(index: int, target: str, source: str = "answers.extra", **fields) -> dict:
    prefix = f"rows-{index}-"
    return {
        f"{prefix}source_path": source, f"{prefix}source_type": "path",
        f"{prefix}target_attribute": target, f"{prefix}operation": "set",
        f"{prefix}transforms": "[]", **{prefix + key: value for key, value in fields.items()},
    }  # fmt: skip


def test_transform_names_typed_without_json_are_read_as_the_list(admin_client, mapping_set):
    config_io.record_version(mapping_set, "", None)

    response = publish(admin_client, mapping_set, **{"rows-2-transforms": "trim, lower"})

    assert response.status_code == 302
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == ["trim", "lower"]


def test_a_bare_name_works_for_the_identifier_too(admin_client, mapping_set):
    config_io.record_version(mapping_set, "", None)

    publish(admin_client, mapping_set, identifier_transforms="trim")

    mapping_set.refresh_from_db()
    assert mapping_set.identifier_transforms == ["trim"]


def test_an_unknown_transform_is_reported_once(admin_client, mapping_set):
    response = publish(admin_client, mapping_set, **{"rows-2-transforms": "trimm"})

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("unknown transform &#x27;trimm&#x27;") == 1
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == []


def test_the_blank_row_is_numbered_after_the_last_row(admin_client, mapping_set):
    FieldMapping.objects.filter(target_attribute="first_name").update(position=7)

    page = admin_client.get(change_url(mapping_set)).content.decode()

    blank = re.search(r'name="rows-4-position" value="(\d+)"', page)
    assert blank and blank[1] == "8"


def test_a_new_row_is_published_last_and_positions_are_renumbered(admin_client, mapping_set):
    config_io.record_version(mapping_set, "", None)
    FieldMapping.objects.filter(target_attribute="plan_interest").update(position=9)
    # The blank row as drawn (position 10), filled in.
    fields = {"rows-TOTAL_FORMS": 5, **new_row(4, "favourite_colour", position=10)}

    publish(admin_client, mapping_set, **fields)

    rows = list(mapping_set.rows.values_list("target_attribute", "position"))
    assert rows == [
        ("email", 0), ("first_name", 1), ("home_city", 2), ("plan_interest", 3),
        ("favourite_colour", 4),
    ]  # fmt: skip


def test_a_duplicate_target_names_both_rows_and_the_field(admin_client, mapping_set):
    config_io.record_version(mapping_set, "", None)
    fields = {"rows-TOTAL_FORMS": 5, **new_row(4, "home_city", position=4)}

    response = publish(admin_client, mapping_set, **fields)

    page = response.content.decode()
    assert "Row 5 (home_city), Braze target: row 3 already sends to home_city" in page
    assert "Please correct the duplicate" not in page
    # Drawn in that row's target cell, above its input (the rows table's own cells).
    cell = re.search(r'<td class="field-target_attribute">(.*?)</td>', page.split('id="rows-4"')[1])
    assert "one row per Braze target" in cell[1]
    assert cell[1].index("errorlist") < cell[1].index('name="rows-4-target_attribute"')
    row_errors = response.context["inline_admin_formsets"][0].formset.forms[4].errors
    assert row_errors["target_attribute"] == [
        "Row 3 already sends to home_city; one row per Braze target"
    ]
    assert mapping_set.rows.count() == 4


def test_the_page_carries_the_engines_transforms_and_targets_for_the_editor(
    admin_client, mapping_set
):
    page = admin_client.get(change_url(mapping_set)).content.decode()

    kinds = json.loads(re.search(r'id="transform-catalogue"[^>]*>(.*?)</script>', page, re.S)[1])
    found = json.loads(re.search(r'id="target-catalogue"[^>]*>(.*?)</script>', page, re.S)[1])
    assert [kind["name"] for kind in kinds] == list(transforms.KINDS)
    phone = next(kind for kind in kinds if kind["name"] == "phone")
    assert [option["name"] for option in phone["options"]] == ["region", "region_from"]
    assert ["BR", "BR"] in phone["options"][0]["choices"]
    city = next(target for target in found["standard"] if target["name"] == "home_city")
    assert city["format"] == "text, at most 255 characters"
    assert "mappings/row_editor.js" in page


def test_every_option_and_standard_attribute_has_an_editor_entry():
    listed = {kind["name"]: kind for kind in catalogue.transform_catalogue()}

    for name, kind in transforms.KINDS.items():
        assert [option["name"] for option in listed[name]["options"]] == list(kind.options)
    assert set(catalogue.STANDARD_FORMATS) == set(targets.STANDARD_ATTRIBUTES)
    lookup = {option["name"]: option for option in listed["lookup"]["options"]}
    assert lookup["table"]["input"] == "table" and lookup["table"]["required"]


def test_the_source_field_suggests_seen_paths_with_types_and_an_example(
    admin_client, mapping_set, ingest, braze
):
    conversation = conversation_for("u-5", city="Porto")
    conversation["answers"]["pin"] = "4321"
    ingest.post("support-bot", conversation)
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=9, source_path="answers.pin", target_attribute="pin",
        is_sensitive=True,
    )  # fmt: skip

    page = admin_client.get(change_url(mapping_set)).content.decode()

    datalist = re.search(r'<datalist id="seen-paths">(.*?)</datalist>', page, re.S)[1]
    assert '<option value="answers.city">string · e.g. Porto</option>' in datalist
    assert '<option value="answers.pin">string</option>' in datalist
    assert "4321" not in datalist
