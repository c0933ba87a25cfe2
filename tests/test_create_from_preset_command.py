"""manage.py create_from_preset: a mapping set from a platform preset, recorded like an import."""

import io

import pytest
from django.core.management import CommandError, call_command

from mappings.engine.mapping import build_payload
from mappings.models import MappingSet
from mappings.platforms import ADAPTERS
from tests.test_platform_adapters import _sample

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out = io.StringIO()
    call_command("create_from_preset", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_set_from_the_preset_that_maps_the_platforms_sample(environment):
    output = create("rasa", "--slug", "rasa-bot", "--environment", "sandbox")

    mapping_set = MappingSet.objects.get(slug="rasa-bot")
    conversation = ADAPTERS["rasa"].parse(_sample("rasa")).conversation
    result = build_payload(mapping_set.to_spec(), conversation)
    assert mapping_set.name == "Rasa bot" and mapping_set.environment == environment
    assert mapping_set.identifier_type == "user_alias"
    assert mapping_set.alias_label == "rasa_sender_id"
    assert result.problems == [] and result.payload["attributes"][0]["dob"] == "1990-04-12"
    assert "Created mapping set 'rasa-bot' (Rasa bot)" in output
    assert f"{mapping_set.rows.count()} row(s)" in output
    assert "/api/v1/platforms/rasa/rasa-bot/" in output
    assert f"/admin/mappings/mappingset/{mapping_set.pk}/change/" in output


def test_it_records_history_as_an_import_does(environment):
    create("voiceflow", "--slug", "vf", "--environment", "sandbox", "--name", "Travel agent")

    mapping_set = MappingSet.objects.get(slug="vf")
    (record,) = mapping_set.history.all()
    assert record.history_type == "+" and record.name == "Travel agent"
    assert mapping_set.version == 1


def test_an_unknown_platform_lists_the_known_ones(environment):
    with pytest.raises(CommandError, match="no preset for 'dialogflow'; known: botpress, "):
        create("dialogflow", "--slug", "x", "--environment", "sandbox")
    assert not MappingSet.objects.exists()


def test_an_existing_slug_is_refused_and_left_as_it_was(mapping_set):
    rows_before = list(mapping_set.rows.values_list("target_attribute", flat=True))

    with pytest.raises(CommandError, match="a mapping set 'support-bot' already exists"):
        create("twilio-studio", "--slug", "support-bot", "--environment", "sandbox")

    mapping_set.refresh_from_db()
    assert mapping_set.name == "Support bot" and mapping_set.version == 1
    assert list(mapping_set.rows.values_list("target_attribute", flat=True)) == rows_before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "ok", "--environment", "prod"], "environment: no environment 'prod'"),
        (["--slug", "not a slug", "--environment", "sandbox"], "slug: Enter a valid"),
    ],
)
def test_a_bad_environment_or_slug_is_named_and_nothing_is_created(environment, args, message):
    with pytest.raises(CommandError, match=message):
        create("lex-v2", *args)
    assert not MappingSet.objects.exists()


def test_the_help_lists_the_platforms(capsys):
    with pytest.raises(SystemExit):
        call_command("create_from_preset", "--help")
    shown = capsys.readouterr().out
    assert "dialogflow-cx" in shown and "twilio-studio" in shown and "--environment" in shown
