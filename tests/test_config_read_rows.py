"""Read rows (lookups.rows) in the config document: exported, imported by bot_name with history
and a new version, validated with located messages; an older file without them keeps them."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from mappings.management import config_diff, config_io
from mappings.models import Environment, LookupField, MappingSet, MappingVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_rows(mapping_set):
    """Three read rows, saved out of document order (positions 5, 0, 2)."""
    for position, field, name, transforms, sensitive in [
        (5, "custom_attributes.tier", "tier", ["upper"], False),
        (0, "first_name", "first_name", [], False),
        (2, "email", "email", ["trim", "lower"], True),
    ]:
        LookupField.objects.create(
            mapping_set=mapping_set, position=position, braze_field=field, bot_name=name,
            transforms=transforms, is_sensitive=sensitive,
        )  # fmt: skip
    config_io.record_version(mapping_set, "first", None)
    return mapping_set


def saved(mapping_set) -> list[tuple]:
    rows = mapping_set.lookup_fields.order_by("position")
    return list(rows.values_list("position", "braze_field", "bot_name", "transforms",
                                 "is_sensitive"))  # fmt: skip


def exported(tmp_path):
    path = tmp_path / "config.yaml"
    call_command("export_config", output=str(path), stderr=io.StringIO())
    return path, yaml.safe_load(path.read_text())


def rewrite(path, document) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_the_export_lists_the_read_rows_in_position_order(tmp_path, read_rows):
    _, document = exported(tmp_path)

    assert document["mapping_sets"][0]["lookups"] == {
        "ttl_seconds": 300,
        "rows": [
            {"braze_field": "first_name", "bot_name": "first_name", "transforms": [],
             "sensitive": False},
            {"braze_field": "email", "bot_name": "email", "transforms": ["trim", "lower"],
             "sensitive": True},
            {"braze_field": "custom_attributes.tier", "bot_name": "tier", "transforms": ["upper"],
             "sensitive": False},
        ],
    }  # fmt: skip


@pytest.mark.parametrize("name", ["config.yaml", "config.json"])
def test_export_then_import_into_an_empty_database_keeps_the_read_rows(tmp_path, read_rows, name):
    path = tmp_path / name
    call_command("export_config", output=str(path), stderr=io.StringIO())
    before = config_io.export_document()
    MappingSet.objects.all().delete()
    Environment.objects.all().delete()
    assert not LookupField.objects.exists()
    printed = io.StringIO()

    call_command("import_config", str(path), stdout=printed)

    assert printed.getvalue().strip().endswith("4 row(s), 3 read row(s).")
    assert config_io.export_document() == before
    imported = MappingSet.objects.get()
    assert saved(imported) == [
        (0, "first_name", "first_name", [], False),
        (1, "email", "email", ["trim", "lower"], True),
        (2, "custom_attributes.tier", "tier", ["upper"], False),
    ]
    assert (
        MappingVersion.live(imported).document["lookups"]["rows"]
        == before["mapping_sets"][0]["lookups"]["rows"]
    )


def test_an_import_updates_read_rows_by_name_with_history_and_records_a_version(
    tmp_path, read_rows
):
    path, document = exported(tmp_path)
    lookups = document["mapping_sets"][0]["lookups"]
    first_name, _removed, tier = lookups["rows"]
    tier["transforms"] = ["lower"]
    tier["braze_field"] = "custom_attributes.level"
    lookups["rows"] = [tier, first_name, {"braze_field": "country", "bot_name": "country"}]
    rewrite(path, document)
    ids = {row.bot_name: row.pk for row in LookupField.objects.all()}
    first_name_records = LookupField.history.filter(bot_name="first_name").count()

    call_command("import_config", str(path), stdout=io.StringIO())

    assert saved(read_rows) == [
        (0, "custom_attributes.level", "tier", ["lower"], False),
        (1, "first_name", "first_name", [], False),
        (2, "country", "country", [], False),
    ]
    assert LookupField.objects.get(bot_name="tier").pk == ids["tier"]  # updated, not replaced
    latest = LookupField.history.filter(id=ids["tier"]).latest()
    changes = {c.field: (c.old, c.new) for c in latest.diff_against(latest.prev_record).changes}
    assert changes == {
        "position": (5, 0),
        "braze_field": ("custom_attributes.tier", "custom_attributes.level"),
        "transforms": (["upper"], ["lower"]),
    }
    assert LookupField.history.filter(id=ids["email"]).latest().history_type == "-"
    assert LookupField.history.filter(bot_name="country").get().history_type == "+"
    # first_name moved from position 0 to 1: one record for that, none for an unchanged save
    assert LookupField.history.filter(bot_name="first_name").count() == first_name_records + 1
    read_rows.refresh_from_db()
    live = MappingVersion.live(read_rows)
    assert (read_rows.version, live.number, live.note) == (2, 2, "imported")
    assert [row["bot_name"] for row in live.document["lookups"]["rows"]] == [
        "tier", "first_name", "country",
    ]  # fmt: skip


def test_a_file_without_read_rows_keeps_the_sets_read_rows(tmp_path, read_rows):
    path, document = exported(tmp_path)
    value = document["mapping_sets"][0]
    del value["lookups"]["rows"]  # as files exported before read rows were in the document
    value["lookups"]["ttl_seconds"] = 30
    rewrite(path, document)
    before = saved(read_rows)
    records = LookupField.history.count()

    call_command("import_config", str(path), stdout=io.StringIO())

    read_rows.refresh_from_db()
    assert read_rows.lookup_ttl_seconds == 30
    assert saved(read_rows) == before
    assert LookupField.history.count() == records
    assert len(MappingVersion.live(read_rows).document["lookups"]["rows"]) == 3


def test_a_file_without_a_lookups_section_keeps_the_read_rows_too(tmp_path, read_rows):
    path, document = exported(tmp_path)
    del document["mapping_sets"][0]["lookups"]
    rewrite(path, document)
    before = saved(read_rows)

    call_command("import_config", str(path), stdout=io.StringIO())

    assert saved(read_rows) == before


def test_an_empty_list_of_read_rows_removes_them(tmp_path, read_rows):
    path, document = exported(tmp_path)
    document["mapping_sets"][0]["lookups"]["rows"] = []
    rewrite(path, document)

    call_command("import_config", str(path), stdout=io.StringIO())

    assert not read_rows.lookup_fields.exists()
    assert LookupField.history.filter(history_type="-").count() == 3


def test_bad_read_rows_are_refused_each_at_its_location_and_nothing_is_written(tmp_path, read_rows):
    path, document = exported(tmp_path)
    document["mapping_sets"][0]["lookups"]["rows"] = [
        {"braze_field": "first_name", "bot_name": "name", "colour": "blue"},
        {"braze_field": "favourite_colour", "bot_name": "colour"},
        {"braze_field": "email"},
        {"braze_field": "email", "bot_name": "name", "transforms": ["lowr"]},
        {"braze_field": "country", "bot_name": "country", "sensitive": "yes"},
        {"braze_field": "dob", "bot_name": "dob", "transforms": "trim"},
        "email",
    ]
    rewrite(path, document)
    before = saved(read_rows)

    with pytest.raises(CommandError) as raised:
        call_command("import_config", str(path), stdout=io.StringIO())

    where = "mapping_sets[0].lookups.rows"
    lines = [line.strip() for line in str(raised.value).splitlines()[1:]]
    assert lines == [
        f"{where}[0].colour: unknown key",
        f"{where}[1].braze_field: 'favourite_colour' is not a field /users/export/ids exports",
        f"{where}[2].bot_name: must be non-empty text",
        f"{where}[3].transforms[0]: unknown transform 'lowr'; known: "
        + lines[3].split("known: ")[1],
        f"{where}[3].bot_name: 'name' is already the name of rows[0]: one read row per name",
        f"{where}[4].sensitive: must be true or false",
        f"{where}[5].transforms: must be a list of transforms",
        f"{where}[6]: must be an object with braze_field and bot_name",
    ]
    assert saved(read_rows) == before


def test_read_rows_that_are_not_a_list_are_refused(read_rows):
    document = config_io.export_document()
    document["mapping_sets"][0]["lookups"]["rows"] = {"tier": "custom_attributes.tier"}

    problems = [str(problem) for problem in config_io.validate_document(document)]

    assert problems == ["mapping_sets[0].lookups.rows: must be a list"]


def test_a_mapping_set_document_is_checked_with_the_mapping_prefix(read_rows):
    value = config_io.mapping_set_document(read_rows)
    value["lookups"]["rows"][2]["bot_name"] = ""

    problems = [str(problem) for problem in config_io.mapping_set_problems(value)]

    assert problems == ["mapping.lookups.rows[2].bot_name: must be non-empty text"]


def test_against_a_version_recorded_without_read_rows_the_diff_says_nothing_of_them(read_rows):
    new = config_io.mapping_set_document(read_rows)
    old = {**new, "lookups": {"ttl_seconds": 300}}  # as versions were recorded before

    assert not config_diff.diff_documents(old, new)
    assert [row.target for row in config_diff.diff_documents(None, new).read_rows] == [
        "first_name", "email", "tier",
    ]  # fmt: skip


def test_the_config_changes_page_lists_a_published_read_row_change(admin_client, read_rows):
    value = config_io.mapping_set_document(read_rows)
    value["lookups"]["rows"][2]["sensitive"] = True
    config_io.write_mapping_set(value, target=read_rows, note="tier is private")

    page = admin_client.get("/admin/logs/changes/").content.decode()

    assert "read row tier: sensitive" in page
