"""manage.py send_test: samples go through the real ingest path to the fake Braze over HTTP,
each logged as a delivery, with Braze's answer and the log link printed per sample."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from mappings.fake_braze import Fault
from mappings.models import Delivery
from tests.conftest import conversation_for

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("send_test", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def jsonl(tmp_path, *lines: str):
    path = tmp_path / "conversations.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_it_sends_each_line_and_prints_braze_answer_and_log_link(
    mapping_set, braze, tmp_path, settings
):
    settings.SITE_URL = "https://bridge.example.com"
    users = ["t-1", "t-2", "t-3"]
    path = jsonl(tmp_path, *(json.dumps(conversation_for(user)) for user in users))

    out, err = run("support-bot", "--file", str(path), "--env", "sandbox")

    sent = [o["external_id"] for o in braze.accepted_objects("attributes")]
    assert sent == users
    for number, user in enumerate(users, start=1):
        delivery = Delivery.objects.get(external_id=user)
        assert delivery.status == "delivered"
        link = "https://bridge.example.com" + reverse("logs:delivery", args=[delivery.pk])
        assert f"line {number}: delivered; Braze 201: " in out
        assert f"  log: {link}" in out
    assert '"message":"success"' in out.replace(" ", "")
    assert "3/3" in err and "[" + "#" * 30 + "]" in err
    assert "Done: 3 delivered" in out


def test_it_prints_braze_refusal_and_mapping_rejection(mapping_set, braze, tmp_path):
    bad = conversation_for("t-9")
    bad["user"]["profile"]["email"] = "not-an-email"
    path = tmp_path / "two.json"
    path.write_text(json.dumps([conversation_for("t-8"), bad]))
    braze.add_fault(Fault(status=400))

    out, _ = run("support-bot", "--file", str(path))

    assert "item 1: failed; Braze 400: " in out
    assert "item 2: rejected; Braze -: not sent: " in out
    assert "Done: 1 failed, 1 rejected" in out


def test_without_a_file_it_resends_the_last_received_conversation(mapping_set, ingest, braze):
    assert ingest.post("support-bot", conversation_for("t-last")).status_code == 200
    braze.clear_received()

    out, err = run("support-bot")

    assert [o["external_id"] for o in braze.accepted_objects("attributes")] == ["t-last"]
    assert "last received: delivered; Braze 201" in out
    assert err == ""  # one sample: no progress bar


def test_without_a_file_or_any_conversation_it_says_to_pass_one(mapping_set):
    with pytest.raises(CommandError, match="received no conversation yet: pass --file"):
        run("support-bot")


def test_it_names_the_bad_line_and_sends_nothing(mapping_set, braze, tmp_path):
    path = jsonl(tmp_path, json.dumps(conversation_for("t-1")), "", '{"user": ')
    with pytest.raises(CommandError, match=r"line 3: not JSON"):
        run("support-bot", "--file", str(path))
    assert braze.received == []
    assert Delivery.objects.count() == 0


def test_it_refuses_an_unknown_set_and_lists_the_known_ones(mapping_set):
    with pytest.raises(CommandError, match=r"No mapping set 'nope' \(known: support-bot\)"):
        run("nope")


def test_it_refuses_an_environment_the_set_does_not_deliver_to(mapping_set, braze, tmp_path):
    path = jsonl(tmp_path, json.dumps(conversation_for("t-1")))
    with pytest.raises(CommandError, match="delivers to 'sandbox', not 'staging'"):
        run("support-bot", "--file", str(path), "--env", "staging")
    assert braze.received == []


def test_it_refuses_production_unless_confirmed(mapping_set, environment, braze, tmp_path):
    environment.name = "production"
    environment.save()
    path = jsonl(tmp_path, json.dumps(conversation_for("t-1")))
    with pytest.raises(CommandError, match="looks like production: add --yes-prod"):
        run("support-bot", "--file", str(path))
    assert braze.received == []

    out, _ = run("support-bot", "--file", str(path), "--yes-prod")
    assert "line 1: delivered; Braze 201" in out
