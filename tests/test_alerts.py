"""Alerts end to end: each condition raised against the fake Braze over HTTP (an outage, a
wrong key, a dead delivery) through real ingest and drain; one email (Django's test outbox) and
one webhook request (a real local receiver) per start and per clear, each with the log link that
shows the rows behind it; then the admin pages, a failing webhook and the job registration.
"""

import logging
import re
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from mappings import periodic_jobs
from mappings.alerts.evaluation import evaluate_all
from mappings.delivery import worker
from mappings.fake_braze import Fault
from mappings.models import AlertNotification, AlertRule, AlertState, Delivery, DeliveryGate
from mappings.models.audit import OPEN_STATUSES
from mappings.roles import AUDITOR
from tests.concurrency import at_once
from tests.conftest import BRAZE_KEY
from tests.staff import logged_in
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

OUTAGE = 10**6  # a 503 fault that lasts until the test clears it


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def _rule(kind: str, receiver: WebhookReceiver, **fields) -> AlertRule:
    rule = AlertRule(
        name=f"{kind} alert", kind=kind, email_recipients="oncall@example.com",
        cooldown_minutes=0, **fields,
    )  # fmt: skip
    rule.set_webhook_url(receiver.url)
    rule.full_clean()
    rule.save()
    return rule


def _drain_until_settled(max_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + max_seconds
    while Delivery.objects.filter(status__in=OPEN_STATUSES).exists():
        assert time.monotonic() < deadline, "deliveries did not settle"
        DeliveryGate.objects.update(blocked_until=None)  # fast-forward the hold
        worker.drain_all()
        time.sleep(0.02)


def _told(mailoutbox, receiver) -> list[tuple[str, str]]:
    """(email subject word, webhook word) per message so far."""
    subjects = [mail.subject.split(":")[0] for mail in mailoutbox]
    words = [re.search(r"\*(STARTED|CLEARED)\*", text).group(1) for text in receiver.texts()]
    return list(zip(subjects, words, strict=True))


def _link(text: str) -> str:
    """The log link of a chat message (``<url|label>``), as a path for the test client."""
    url = re.search(r"<([^|>]+)\|", text).group(1)
    assert url.startswith(settings.SITE_URL)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _rows(admin_client, path: str) -> list:
    response = admin_client.get(path)
    assert response.status_code == 200
    return response.context["page"].rows


def _assert_start_then_silence(mailoutbox, receiver) -> None:
    evaluate_all()
    assert _told(mailoutbox, receiver) == [("[bridge] STARTED", "STARTED")]
    assert mailoutbox[0].to == ["oncall@example.com"]
    assert mailoutbox[0].from_email == settings.DEFAULT_FROM_EMAIL
    assert _link(receiver.texts()[0]) in mailoutbox[0].body.replace(settings.SITE_URL, "")
    evaluate_all()  # still firing: nothing is repeated
    assert len(mailoutbox) == 1 and len(receiver.requests) == 1


def _assert_cleared(mailoutbox, receiver) -> None:
    evaluate_all()
    assert _told(mailoutbox, receiver) == [
        ("[bridge] STARTED", "STARTED"), ("[bridge] CLEARED", "CLEARED"),
    ]  # fmt: skip
    evaluate_all()
    assert len(mailoutbox) == 2 and len(receiver.requests) == 2


def test_an_outage_alerts_once_when_the_failure_rate_passes_and_once_when_it_falls(
    ingest, braze, environment, receiver, mailoutbox, admin_client
):
    _rule("failure_rate", receiver, environment=environment, threshold=50, min_calls=3)
    braze.add_fault(Fault(status=503, times=OUTAGE))
    failed_ids = ingest.send_async("support-bot", "u1", "u2", "u3", "u4")
    worker.drain_all()

    _assert_start_then_silence(mailoutbox, receiver)
    assert "sandbox: 4 of 4 Braze calls failed in the last 15 min (100%" in mailoutbox[0].body
    shown = _rows(admin_client, _link(receiver.texts()[0]))
    assert sorted(str(attempt.delivery_id) for attempt in shown) == sorted(failed_ids)
    assert {attempt.response_status for attempt in shown} == {503}

    braze.clear_faults()
    _drain_until_settled()  # the four go through on their retry
    ingest.send_async("support-bot", "u5", "u6", "u7", "u8")
    _drain_until_settled()  # 4 failed of 12 calls: under the threshold
    _assert_cleared(mailoutbox, receiver)
    assert "back to normal" in mailoutbox[1].body


def test_a_wrong_key_alerts_while_the_environment_is_parked_and_clears_when_the_key_is_fixed(
    ingest, braze, environment, receiver, mailoutbox, admin_client
):
    _rule("parked", receiver)
    environment.credential.set_api_key("wrong-key-0000")
    environment.credential.save()
    [parked_id] = ingest.send_async("support-bot", "u1")
    worker.drain_all()
    assert DeliveryGate.objects.get(environment=environment).paused_reason

    _assert_start_then_silence(mailoutbox, receiver)
    assert "sandbox: deliveries parked" in mailoutbox[0].body
    assert "401" in mailoutbox[0].body
    shown = _rows(admin_client, _link(receiver.texts()[0]))
    assert [str(delivery.pk) for delivery in shown] == [parked_id]

    # The product's fix: an admin saves the right key, which resumes the environment.
    credential = environment.credential
    response = admin_client.post(
        reverse("admin:mappings_brazecredential_change", args=[credential.pk]),
        {"environment": environment.pk, "api_key": BRAZE_KEY},
    )
    assert response.status_code == 302
    assert not DeliveryGate.objects.get(environment=environment).paused_reason
    _assert_cleared(mailoutbox, receiver)


def test_a_dead_delivery_alerts_once_and_clears_when_it_is_replayed(
    ingest, braze, environment, receiver, mailoutbox, admin_client, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 1
    _rule("dead_delivery", receiver, environment=environment)
    [dead_id, _] = ingest.send_async("support-bot", "u1", "u2")
    Delivery.objects.exclude(pk=dead_id).update(status="failed")  # a failed one is not dead
    braze.add_fault(Fault(status=500, times=1))
    worker.drain_all()
    assert Delivery.objects.get(pk=dead_id).status == "dead"

    _assert_start_then_silence(mailoutbox, receiver)
    assert "sandbox: 1 delivery went dead in the last 15 min" in mailoutbox[0].body
    shown = _rows(admin_client, _link(receiver.texts()[0]))
    assert [str(delivery.pk) for delivery in shown] == [dead_id]

    response = admin_client.post(reverse("logs:replay", args=[dead_id]))
    assert response.status_code == 302
    _drain_until_settled()
    assert Delivery.objects.get(pk=dead_id).status == "delivered"
    _assert_cleared(mailoutbox, receiver)


def test_a_failing_webhook_is_recorded_and_the_email_still_goes(
    environment, receiver, mailoutbox, caplog, admin_client
):
    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    rule = _rule("parked", receiver)
    DeliveryGate.objects.create(environment=environment, paused_reason="Braze answered 401")

    evaluate_all()

    assert len(mailoutbox) == 1 and len(receiver.requests) == 1
    by_channel = {row.channel: row for row in AlertNotification.objects.filter(rule=rule)}
    assert by_channel["email"].ok is True
    assert by_channel["webhook"].ok is False
    assert by_channel["webhook"].error == "the webhook answered HTTP 500"
    _assert_nowhere(receiver.url, caplog.text, admin_client, rule)


def test_a_refused_webhook_is_recorded_without_its_url(
    environment, receiver, mailoutbox, caplog, admin_client
):
    caplog.set_level(logging.DEBUG)
    rule = _rule("parked", receiver)
    receiver.__exit__()  # nothing listens on its port any more
    DeliveryGate.objects.create(environment=environment, paused_reason="Braze answered 401")

    evaluate_all()

    assert len(mailoutbox) == 1
    webhook = AlertNotification.objects.get(rule=rule, channel="webhook")
    assert webhook.ok is False and "could not be reached" in webhook.error
    assert "not sent by webhook" in caplog.text
    _assert_nowhere(receiver.url, caplog.text, admin_client, rule)


def _assert_nowhere(url: str, log_text: str, admin_client, rule: AlertRule) -> None:
    token = urlsplit(url).path
    pages = [
        reverse("admin:mappings_alertrule_changelist"),
        reverse("admin:mappings_alertrule_change", args=[rule.pk]),
        reverse("admin:mappings_alertrule_history", args=[rule.pk]),
        reverse("admin:mappings_alertstate_changelist"),
        reverse("admin:mappings_alertnotification_changelist"),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert token not in response.content.decode(), page
    assert token not in log_text
    assert "…" + url[-4:] in admin_client.get(pages[1]).content.decode()


def test_an_admin_adds_and_changes_a_rule_and_the_webhook_url_is_never_shown_back(
    admin_client, environment, receiver
):
    add = reverse("admin:mappings_alertrule_add")
    assert 'type="password"' in admin_client.get(add).content.decode()
    form = {
        "name": "Braze down", "kind": "failure_rate", "environment": environment.pk,
        "threshold": "20", "window_minutes": "15", "min_calls": "20", "cooldown_minutes": "15",
        "email_recipients": "a@example.com, b@example.com", "webhook_url": receiver.url,
        "is_active": "on",
    }  # fmt: skip
    response = admin_client.post(add, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = AlertRule.objects.get()
    assert rule.recipients() == ["a@example.com", "b@example.com"]
    assert rule.webhook_url() == receiver.url
    assert receiver.url not in rule.webhook_url_ciphertext

    change = reverse("admin:mappings_alertrule_change", args=[rule.pk])
    page = admin_client.get(change).content.decode()
    assert urlsplit(receiver.url).path not in page and "…" + receiver.url[-4:] in page
    # Left blank, the webhook is kept; the other fields change.
    response = admin_client.post(change, {**form, "webhook_url": "", "threshold": "30"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.threshold == 30 and rule.webhook_url() == receiver.url


def test_an_auditor_sees_the_rule_with_its_webhook_masked(client, django_user_model, receiver):
    rule = _rule("parked", receiver)
    logged_in(client, "audit", AUDITOR)

    page = client.get(reverse("admin:mappings_alertrule_change", args=[rule.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert urlsplit(receiver.url).path not in html and "…" + receiver.url[-4:] in html
    assert "Remove the webhook" not in html  # nothing to change
    alerts = client.get(reverse("admin:mappings_alertstate_changelist"))
    assert alerts.status_code == 200


def test_the_rule_form_explains_what_is_missing(admin_client, environment):
    form = {
        "name": "No channel", "kind": "queue_age", "window_minutes": "15", "min_calls": "20",
        "cooldown_minutes": "15", "email_recipients": "not-an-address", "is_active": "on",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:mappings_alertrule_add"), form)
    errors = response.context["adminform"].form.errors
    assert errors["threshold"] == ["This kind needs a threshold (seconds)"]
    assert errors["email_recipients"] == ["Not an email address: not-an-address"]

    response = admin_client.post(
        reverse("admin:mappings_alertrule_add"), {**form, "email_recipients": "", "threshold": "9"}
    )
    errors = response.context["adminform"].form.errors
    assert errors["email_recipients"] == [
        "Give at least one channel: email recipients or a webhook"
    ]
    assert not AlertRule.objects.exists()


def test_the_alert_list_shows_what_fires_with_its_link(admin_client, environment, receiver):
    _rule("parked", receiver)
    DeliveryGate.objects.create(environment=environment, paused_reason="Braze answered 401")
    evaluate_all()
    state = AlertState.objects.get()

    page = admin_client.get(reverse("admin:mappings_alertstate_changelist")).content.decode()

    assert "sandbox: deliveries parked" in page
    assert "Firing" in page
    assert f'href="{state.link.replace("&", "&amp;")}"' in page


def test_the_alerts_job_is_registered_with_its_interval_setting():
    [job] = [job for job in periodic_jobs.jobs() if job.name == "alerts"]
    assert job.interval_setting == "ALERTS_EVALUATE_INTERVAL_SECONDS"
    assert job.run is evaluate_all


@pytest.mark.django_db(transaction=True)
def test_evaluators_in_four_threads_at_once_send_one_message(mailoutbox, receiver):
    from django.db import connection

    from mappings.models import Environment

    if connection.vendor == "sqlite":
        pytest.skip("SQLite in-memory test database locks whole tables: no concurrency")
    environment = Environment.objects.create(
        name="sandbox", rest_endpoint="https://rest.iad-01.braze.com"
    )
    DeliveryGate.objects.create(environment=environment, paused_reason="Braze answered 401")
    _rule("parked", receiver)
    sent = at_once(evaluate_all, threads=4)

    assert len(sent) == 1
    assert len(mailoutbox) == 1 and len(receiver.requests) == 1
    assert AlertState.objects.get().notified_firing is True
