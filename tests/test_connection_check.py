"""Test connection: one empty /users/track over real HTTP, each answer told apart in words.

Through the module (``check_connection``) and through the environment's admin page and list
action, as a logged-in admin. The fake Braze answers as Braze does: 400 "valid data" for a key
it accepts, 401 for an unknown key, 403 for a key without users.track, faults for outages.
"""

import logging
import socket

import pytest
from django.contrib.auth.models import Permission

from mappings.delivery import connection_check
from mappings.delivery.connection_check import check_connection
from mappings.fake_braze import Fault
from mappings.models import Delivery, DeliveryAttempt, DeliveryGate, Environment
from tests.conftest import BRAZE_KEY, NO_TRACK_KEY

pytestmark = pytest.mark.django_db

WRONG_KEY = "braze-wrong-key-canary-8Zt5"


def environment_with(endpoint: str, key: str | None = BRAZE_KEY, name: str = "prod"):
    environment = Environment.objects.create(name=name, rest_endpoint=endpoint)
    if key is not None:
        environment.store_api_key(key)
    return environment


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_working_key_is_accepted_and_nothing_is_written(environment, braze):
    verdict = check_connection(environment)

    assert verdict.kind == "ok", verdict
    assert "HTTP 400" in verdict.seen
    assert "Valid data must be provided" in verdict.summary
    [request] = braze.received
    assert request.body == {}
    assert request.status == 400
    assert braze.accepted_objects("attributes") == []
    # A question, not a delivery: no log rows, no hold.
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()
    assert not DeliveryGate.objects.exists()


def test_an_unknown_key_is_a_wrong_key(braze):
    verdict = check_connection(environment_with(braze.url, WRONG_KEY))

    assert verdict.kind == "wrong_key"
    assert "401" in verdict.summary and "another Braze instance" in verdict.summary
    assert WRONG_KEY[-4:] not in str(verdict)  # Braze's 401 text (the key's end) is not echoed


def test_a_key_without_users_track_is_refused_with_both_possible_causes(braze):
    verdict = check_connection(environment_with(braze.url, NO_TRACK_KEY))

    assert verdict.kind == "refused_key"
    assert "403" in verdict.summary
    assert "users.track" in verdict.summary and "IP allowlist" in verdict.summary


def test_a_web_server_that_is_not_braze_is_told_by_its_404_page(live_server):
    verdict = check_connection(environment_with(live_server.url))

    assert verdict.kind == "not_braze"
    assert "not JSON" in verdict.seen and "HTTP 404" in verdict.seen


def test_a_closed_port_is_a_connection_error(db):
    verdict = check_connection(environment_with(f"http://127.0.0.1:{a_closed_port()}"))

    assert verdict.kind == "unreachable"
    assert "Could not connect" in verdict.summary and "connection error" in verdict.seen


def test_tls_to_a_plain_http_server_is_a_tls_error(braze):
    verdict = check_connection(environment_with(f"https://127.0.0.1:{braze.port}"))

    assert verdict.kind == "unreachable"
    assert "TLS" in verdict.summary and "tls error" in verdict.seen


def test_a_slow_braze_is_a_timeout(environment, braze, settings):
    settings.BRAZE_READ_TIMEOUT_SECONDS = 0.2
    braze.add_fault(Fault(delay_seconds=1.0))

    verdict = check_connection(environment)

    assert verdict.kind == "unreachable"
    assert "timeout" in verdict.summary


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (503, "outage", "Braze answered 503"),
        (429, "rate_limited", "test again in a moment"),
        (202, "maintenance", "key was not checked"),
    ],
)
def test_brazes_own_troubles_are_told_apart_from_ours(environment, braze, status, kind, words):
    braze.add_fault(Fault(status=status))

    verdict = check_connection(environment)

    assert verdict.kind == kind
    assert words in verdict.summary
    assert not verdict.ok


def test_an_environment_without_a_key_is_not_sent(braze):
    verdict = check_connection(environment_with(braze.url, key=None))

    assert verdict.kind == "no_key"
    assert braze.received == []


def test_an_endpoint_no_longer_allowed_is_not_called(braze, settings):
    environment = environment_with(braze.url)
    settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS = False

    verdict = check_connection(environment)

    assert verdict.kind == "not_braze" and "Loopback" in verdict.summary
    assert braze.received == []


def test_the_log_line_names_the_verdict_but_never_the_key(environment, braze, caplog):
    with caplog.at_level(logging.INFO, logger="mappings.delivery.connection_check"):
        check_connection(environment)

    assert f"environment {environment.pk}" in caplog.text and ": ok," in caplog.text
    assert BRAZE_KEY not in caplog.text


# -- through the admin ------------------------------------------------------------------------


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-unused-1")
    client.force_login(user)
    return client


def change_page(environment) -> str:
    return f"/admin/mappings/environment/{environment.pk}/change/"


def test_the_change_page_offers_the_button_and_says_what_it_cannot_tell(admin, environment):
    page = admin.get(change_page(environment)).content.decode()

    assert 'id="test-connection"' in page
    assert "cannot tell whether a 403" in page
    assert "cannot prove that a real delivery will be applied" in page


@pytest.mark.parametrize(
    ("key", "level", "words"),
    [
        (BRAZE_KEY, "success", "Braze is reachable and accepted the key"),
        (WRONG_KEY, "error", "Braze does not know this key (401)"),
        (NO_TRACK_KEY, "error", "Braze knows the key but refused it (403)"),
    ],
)
def test_the_button_shows_the_verdict_on_the_environment_page(admin, braze, key, level, words):
    environment = environment_with(braze.url, key)

    response = admin.post(
        f"/admin/mappings/environment/{environment.pk}/test-connection/", follow=True
    )

    assert response.redirect_chain[-1][0] == change_page(environment)
    page = response.content.decode()
    assert f'class="{level}"' in page and words in page
    assert key not in page and key[-4:] not in page.split('class="messagelist"')[1][:2000]
    assert len(braze.received) == 1


def test_the_button_only_answers_a_post(admin, environment, braze):
    response = admin.get(f"/admin/mappings/environment/{environment.pk}/test-connection/")

    assert response.status_code == 405
    assert braze.received == []


def test_a_view_only_admin_can_neither_see_nor_press_the_button(
    client, django_user_model, environment, braze
):
    viewer = django_user_model.objects.create_user("auditor", password="pw-unused-2")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_environment"))
    client.force_login(viewer)

    page = client.get(change_page(environment)).content.decode()
    pressed = client.post(f"/admin/mappings/environment/{environment.pk}/test-connection/")

    assert 'id="test-connection"' not in page
    assert pressed.status_code == 403
    assert braze.received == []


def test_the_list_action_tests_each_selected_environment(admin, environment, braze):
    wrong = environment_with(braze.url, WRONG_KEY, name="prod")

    response = admin.post(
        "/admin/mappings/environment/",
        {"action": "test_connection", "_selected_action": [environment.pk, wrong.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "Test connection, sandbox: Braze is reachable and accepted the key" in page
    assert "Test connection, prod: Braze does not know this key (401)" in page
    assert len(braze.received) == 2


def test_the_help_text_is_the_modules_own(environment, admin):
    # One text, kept beside the code that decides the verdicts.
    page = admin.get(change_page(environment)).content.decode()
    assert connection_check.HELP_TEXT[:80] in page
