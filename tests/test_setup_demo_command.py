"""manage.py setup_demo: the demo configuration works as printed."""

import io
import json
import re
import shlex

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from mappings.management.demo import DEMO_ROWS
from mappings.models import ApiClient, MappingSet
from tests.conftest import BRAZE_KEY, IngestCaller

pytestmark = pytest.mark.django_db


def _setup_demo(braze) -> str:
    out = io.StringIO()
    call_command("setup_demo", braze_url=braze.url, braze_api_key=BRAZE_KEY, stdout=out)
    return out.getvalue()


def test_the_printed_token_and_sample_deliver_to_braze(braze):
    output = _setup_demo(braze)

    token = re.search(r"Authorization: Bearer (\S+?)'", output).group(1)
    sample_path = shlex.split(re.search(r"  (curl .*)", output).group(1))[-1].lstrip("@")
    with open(sample_path) as sample:
        conversation = json.load(sample)
    response = IngestCaller(token).post("pypestream-demo", conversation)

    assert response.json()["success"] is True, response.json()
    [attributes] = braze.received[0].body["attributes"]
    assert attributes["external_id"] == "user-1001"
    assert attributes["email"] == "ana.souza@example.com"
    assert attributes["dob"] == "1990-04-12"
    assert attributes["home_city"] == "São Paulo"
    assert attributes["phone"] == "+5511987654321"
    assert (attributes["country"], attributes["gender"]) == ("BR", "F")
    assert attributes["email_subscribe"] == "opted_in"
    [event] = braze.received[0].body["events"]
    assert event["name"] == "bot_conversation_completed"
    assert event["time"] == "2026-11-20T10:12:44Z"
    assert event["properties"] == {"channel": "web", "interest": "travel insurance"}


def test_the_printed_admin_login_works(braze):
    output = _setup_demo(braze)

    username, password = re.search(r"Login:\s+(\S+) / (\S+)", output).groups()
    user = authenticate(username=username, password=password)
    assert user is not None and user.is_staff


def test_running_it_twice_refreshes_rather_than_duplicates(braze):
    first = _setup_demo(braze)
    second = _setup_demo(braze)

    assert MappingSet.objects.count() == 1
    assert ApiClient.objects.count() == 1
    assert MappingSet.objects.get().rows.count() == len(DEMO_ROWS) + 1  # + the event name
    old_token = re.search(r"Bearer (\S+?)'", first).group(1)
    assert re.search(r"Bearer (\S+?)'", second).group(1) != old_token
