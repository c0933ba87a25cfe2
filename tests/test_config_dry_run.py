"""Every setting round-trips through export and import; import_config --dry-run prints, field by
field, what the import then changes, and writes nothing."""

import io

import pytest
import yaml
from django.core.management import call_command

from mappings.management import config_diff, config_io, config_plan
from mappings.models import Environment, FieldMapping, LookupField, MappingSet, MappingVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def tuned_mapping(mapping_set):
    """Every setting away from its default."""
    mapping_set.delivery_mode = "async"
    mapping_set.sync_budget_seconds = 2.5
    mapping_set.dedup_unchanged_attributes = True
    mapping_set.partial_success = "warn"
    mapping_set.lookup_ttl_seconds = 45
    mapping_set.on_problem = "drop_field"
    mapping_set.braze_partner = "pypestream"
    mapping_set.save()
    return mapping_set


def test_every_setting_survives_export_and_import_into_an_empty_database(tmp_path, tuned_mapping):
    path = tmp_path / "config.yaml"
    call_command("export_config", output=str(path), stderr=io.StringIO())
    MappingSet.objects.all().delete()
    Environment.objects.all().delete()

    call_command("import_config", str(path), stdout=io.StringIO())

    imported = MappingSet.objects.get()
    assert (
        imported.delivery_mode, imported.sync_budget_seconds, imported.dedup_unchanged_attributes,
        imported.partial_success, imported.lookup_ttl_seconds, imported.on_problem,
        imported.braze_partner,
    ) == ("async", 2.5, True, "warn", 45, "drop_field", "pypestream")  # fmt: skip
    assert yaml.safe_load(path.read_text())["mapping_sets"][0]["lookups"] == {
        "ttl_seconds": 45,
        "rows": [],
    }


def test_a_bad_lookup_setting_is_refused_with_its_location(tmp_path, mapping_set):
    document = config_io.export_document()
    document["mapping_sets"][0]["lookups"] = {"ttl_seconds": -1, "size": 3}

    problems = [str(problem) for problem in config_io.validate_document(document)]

    assert "mapping_sets[0].lookups.size: unknown key" in problems
    assert any(p.startswith("mapping_sets[0].lookups.ttl_seconds:") for p in problems)


def _edited_export(tmp_path):
    """The export with a row changed, one removed, one added and two settings changed."""
    document = config_io.export_document()
    value = document["mapping_sets"][0]
    value["delivery"]["mode"] = "async"
    value["lookups"]["ttl_seconds"] = 60
    rows = {row["target"]: row for row in value["rows"]}
    rows["home_city"]["transforms"] = ["trim", "upper"]
    del rows["plan_interest"]
    value["rows"] = [*rows.values(), {"source": "answers.lang", "target": "language"}]
    path = tmp_path / "edited.yaml"
    path.write_text(config_io.dump(document))
    return path


def test_dry_run_prints_each_change_field_by_field_and_writes_nothing(tmp_path, mapping_set):
    path = _edited_export(tmp_path)
    before = config_io.export_document()
    counts = (
        MappingSet.history.count(),
        FieldMapping.history.count(),
        MappingVersion.objects.count(),
    )
    out = io.StringIO()

    call_command("import_config", str(path), "--dry-run", stdout=out)

    printed = out.getvalue().splitlines()
    assert (
        printed[0] == "support-bot: 2 settings changed, 1 row added, 1 row removed, 1 row changed"
    )
    assert "  setting delivery.mode: sync -> async" in printed
    assert "  setting lookups.ttl_seconds: 300 -> 60" in printed
    assert "  row plan_interest removed" in printed
    assert "  row home_city changed" in printed
    assert "    transforms: \u2013 -> trim \u2192 upper" in printed
    assert "  row language added" in printed and "    source: \u2013 -> answers.lang" in printed
    assert printed[-1].startswith("Would import 1 environment(s), 1 mapping set(s), 4 row(s)")
    assert config_io.export_document() == before
    assert counts == (
        MappingSet.history.count(),
        FieldMapping.history.count(),
        MappingVersion.objects.count(),
    )


def test_what_dry_run_prints_is_what_the_import_then_changes(tmp_path, mapping_set):
    path = _edited_export(tmp_path)
    out = io.StringIO()
    call_command("import_config", str(path), "--dry-run", stdout=out)
    before = config_io.mapping_set_document(MappingSet.objects.get())

    call_command("import_config", str(path), stdout=io.StringIO())

    after = config_io.mapping_set_document(MappingSet.objects.get())
    happened = config_plan.SetChange(
        "support-bot", False, config_diff.diff_documents(before, after)
    )
    assert out.getvalue().splitlines()[:-1] == happened.lines()
    assert MappingVersion.objects.get(status="published").document == after


def test_dry_run_prints_read_row_changes_apart_from_rows_and_writes_nothing(tmp_path, mapping_set):
    for position, (field, name) in enumerate([("first_name", "name"), ("email", "email")]):
        LookupField.objects.create(
            mapping_set=mapping_set, position=position, braze_field=field, bot_name=name
        )
    document = config_io.export_document()
    lookups = document["mapping_sets"][0]["lookups"]
    lookups["rows"][0]["transforms"] = ["upper"]
    lookups["rows"][1:] = [{"braze_field": "custom_attributes.tier", "bot_name": "tier"}]
    path = tmp_path / "edited.yaml"
    path.write_text(config_io.dump(document))
    before = config_io.export_document()
    counts = (LookupField.history.count(), MappingVersion.objects.count())
    out = io.StringIO()

    call_command("import_config", str(path), "--dry-run", stdout=out)

    assert out.getvalue().splitlines()[:-1] == [
        "support-bot: 1 read row added, 1 read row removed, 1 read row changed",
        "  read row email removed",
        "  read row name changed",
        "    transforms: \u2013 -> upper",
        "  read row tier added",
        "    braze_field: \u2013 -> custom_attributes.tier",
        "    bot_name: \u2013 -> tier",
        "    transforms: \u2013 -> \u2013",
        "    sensitive: \u2013 -> False",
    ]
    assert config_io.export_document() == before
    assert (LookupField.history.count(), MappingVersion.objects.count()) == counts


def test_dry_run_of_a_new_mapping_set_says_it_is_new(tmp_path, mapping_set):
    document = config_io.export_document()
    document["mapping_sets"][0]["slug"] = "faq-bot"
    path = tmp_path / "new.yaml"
    path.write_text(config_io.dump(document))
    out = io.StringIO()

    call_command("import_config", str(path), "--dry-run", stdout=out)

    assert out.getvalue().startswith("faq-bot: new mapping set, ")
    assert not MappingSet.objects.filter(slug="faq-bot").exists()


def _promote(*args) -> list[str]:
    out = io.StringIO()
    call_command("promote_mapping", "support-bot", "--to", "prod", *args, stdout=out)
    return out.getvalue().splitlines()


def test_promote_mapping_prints_what_it_changes_in_the_target_and_records_it(mapping_set, braze):
    Environment.objects.create(name="prod", rest_endpoint=braze.url)
    _promote()
    target = MappingSet.objects.get(slug="support-bot-prod")
    value = config_io.mapping_set_document(mapping_set)
    value["delivery"]["mode"] = "async"
    value["rows"] = value["rows"][:-1]
    config_io.write_mapping_set(value, target=mapping_set, note="sandbox edit")
    before = config_io.mapping_set_document(target)

    planned = _promote("--dry-run")
    assert config_io.mapping_set_document(MappingSet.objects.get(pk=target.pk)) == before
    printed = _promote("--note", "async in prod")

    after = config_io.mapping_set_document(MappingSet.objects.get(pk=target.pk))
    happened = config_plan.SetChange(
        "support-bot-prod", False, config_diff.diff_documents(before, after)
    )
    assert printed[:-1] == planned[:-1] == happened.lines()
    assert printed[1:] == ["  setting delivery.mode: sync -> async", "  row plan_interest removed",
                           "Promoted: support-bot-prod is v2 in prod."]  # fmt: skip
    assert [(v.status, v.environment.name) for v in target.versions.order_by("created_at")] == [
        ("superseded", "prod"), ("published", "prod"),
    ]  # fmt: skip
    assert target.versions.get(status="published").note == (
        "Promoted from support-bot (sandbox): async in prod"
    )
    assert MappingSet.history.filter(id=target.pk).latest().delivery_mode == "async"


def test_a_file_promotes_too_with_the_diff_printed_first(tmp_path, mapping_set, braze):
    Environment.objects.create(name="prod", rest_endpoint=braze.url)
    _promote()
    FieldMapping.objects.filter(target_attribute="email", mapping_set=mapping_set).update(
        required=False
    )
    document = config_io.export_document(["support-bot"])
    document["mapping_sets"][0] |= {"slug": "support-bot-prod", "environment": "prod"}
    path = tmp_path / "prod.yaml"
    path.write_text(config_io.dump(document))
    out = io.StringIO()

    call_command("import_config", str(path), "--dry-run", stdout=out)
    call_command("import_config", str(path), stdout=io.StringIO())

    assert out.getvalue().splitlines()[:3] == [
        "support-bot-prod: 1 row changed", "  row email changed", "    required: True -> False",
    ]  # fmt: skip
    target = MappingSet.objects.get(slug="support-bot-prod")
    assert not target.rows.get(target_attribute="email").required
    assert list(target.versions.values_list("status", "environment__name", "note")) == [
        ("published", "prod", "imported"),
        ("superseded", "prod", "Promoted from support-bot (sandbox)"),
    ]
