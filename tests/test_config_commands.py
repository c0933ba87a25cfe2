"""manage.py export_config / import_config: config as code, validated before anything is written."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from mappings.management import config_io
from mappings.models import BrazeCredential, Environment, FieldMapping, MappingSet
from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db


def export(tmp_path, name="config.yaml"):
    path = tmp_path / name
    call_command("export_config", output=str(path), stderr=io.StringIO())
    return path


@pytest.fixture
def rich_mapping(mapping_set):
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=10, source_path="answers.birthday",
        target_attribute="dob", transforms=[{"name": "dob", "order": "MDY"}], is_sensitive=True,
    )  # fmt: skip
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=11, source_type="constant", source_path="chatted",
        target_attribute="events[0].name",
    )  # fmt: skip
    mapping_set.on_problem = "drop_field"
    mapping_set.identifier_transforms = ["trim"]
    mapping_set.save()
    return mapping_set


@pytest.mark.parametrize("name", ["config.yaml", "config.json"])
def test_export_then_import_on_an_empty_database_reproduces_the_mappings(
    tmp_path, rich_mapping, name
):
    path = export(tmp_path, name)
    before = config_io.export_document()
    MappingSet.objects.all().delete()
    Environment.objects.all().delete()

    call_command("import_config", str(path), stdout=io.StringIO())

    assert config_io.export_document() == before
    assert MappingSet.objects.get().rows.count() == 6


def test_the_export_holds_no_secret(tmp_path, rich_mapping):
    text = export(tmp_path).read_text()

    assert BRAZE_KEY not in text
    assert BrazeCredential.objects.get().api_key_ciphertext not in text
    assert "api_key" not in text


def test_import_updates_an_existing_mapping_set_and_bumps_its_version(tmp_path, mapping_set):
    path = export(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["mapping_sets"][0]["rows"][0]["transforms"] = ["trim", "lower"]
    path.write_text(yaml.safe_dump(document))

    call_command("import_config", str(path), stdout=io.StringIO())

    mapping_set.refresh_from_db()
    assert mapping_set.version == 2
    assert mapping_set.rows.get(target_attribute="email").transforms == ["trim", "lower"]


def test_import_reports_every_problem_with_its_location_and_writes_nothing(tmp_path, mapping_set):
    path = export(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["environments"].append({"name": "prod", "rest_endpoint": "https://evil.example.com"})
    document["mapping_sets"][0]["name"] = "Renamed"
    rows = document["mapping_sets"][0]["rows"]
    rows[1]["transforms"] = ["lowr"]
    rows[2]["target"] = "$bad"
    rows[3]["colour"] = "blue"
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(CommandError) as raised:
        call_command("import_config", str(path), stdout=io.StringIO())

    message = str(raised.value)
    for location in [
        "environments[1].rest_endpoint",
        "mapping_sets[0].rows[1].transforms[0]",
        "mapping_sets[0].rows[2].target",
        "mapping_sets[0].rows[3].colour",
    ]:
        assert location in message
    assert MappingSet.objects.get().name == "Support bot"
    assert not Environment.objects.filter(name="prod").exists()


def test_a_dry_run_validates_without_writing(tmp_path, mapping_set):
    path = export(tmp_path)
    MappingSet.objects.all().delete()
    out = io.StringIO()

    call_command("import_config", str(path), dry_run=True, stdout=out)

    assert "Would import 1 environment(s), 1 mapping set(s), 4 row(s)" in out.getvalue()
    assert not MappingSet.objects.exists()


def test_a_file_that_is_not_json_or_yaml_is_refused(tmp_path, db):
    path = tmp_path / "broken.yaml"
    path.write_text("environments: [\n")

    with pytest.raises(CommandError, match="not valid JSON or YAML"):
        call_command("import_config", str(path))
