"""Alert conditions and their evaluation, on rows made directly: what each kind counts, the
subjects and links it reports, the cool-down, and two evaluators sending one message."""

import io
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from mappings.alerts import conditions, evaluation
from mappings.alerts.evaluation import evaluate_all
from mappings.models import (
    AlertNotification,
    AlertRule,
    AlertState,
    CanaryRun,
    Delivery,
    DeliveryGate,
    Environment,
    FieldMapping,
    MappingSet,
)
from tests.log_rows import for_user, logged_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod_set(db) -> MappingSet:
    prod = Environment.objects.create(name="prod", rest_endpoint="https://rest.iad-01.braze.com")
    mapping_set = MappingSet.objects.create(
        slug="prod-bot", name="Prod bot", environment=prod, identifier_source_path="user.id"
    )
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=0, source_path="user.profile.email",
        target_attribute="email",
    )  # fmt: skip
    return mapping_set


def _rule(kind: str, **fields) -> AlertRule:
    rule = AlertRule(name=kind, kind=kind, email_recipients="oncall@example.com", **fields)
    rule.full_clean()
    rule.save()
    return rule


def _calls(mapping_set, conversation, statuses: list[int], prefix: str = "u") -> list[Delivery]:
    return [
        logged_delivery(mapping_set, for_user(conversation, f"{prefix}{n}"), http_status=status)
        for n, status in enumerate(statuses)
    ]


def _listed(admin_client, link: str) -> list:
    parts = urlsplit(link)
    assert link.startswith(settings.SITE_URL)
    response = admin_client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    return response.context["page"].rows


def test_failure_rate_fires_per_environment_with_a_link_to_its_failed_calls(
    mapping_set, prod_set, conversation, admin_client
):
    rule = _rule("failure_rate", threshold=50, min_calls=4)
    failed = _calls(mapping_set, conversation, [503, 503, 503, 201])
    _calls(prod_set, conversation, [503, 503, 503, 503], prefix="p")

    found = {f.label: f for f in conditions.firing(rule, timezone.now())}

    assert set(found) == {"sandbox", "prod"}
    assert found["sandbox"].summary.startswith(
        "sandbox: 3 of 4 Braze calls failed in the last 15 min (75%"
    )
    listed = _listed(admin_client, found["sandbox"].link)
    assert {a.delivery_id for a in listed} == {d.pk for d in failed[:3]}  # not prod's, not 201


def test_failure_rate_needs_min_calls_and_counts_only_what_braze_did_not_answer_2xx(
    mapping_set, conversation
):
    rule = _rule("failure_rate", environment=mapping_set.environment, threshold=10, min_calls=3)
    _calls(mapping_set, conversation, [503, 503])
    assert conditions.firing(rule, timezone.now()) == []  # 2 calls: under min_calls

    # A record Braze refused inside its 2xx answer: Braze is up, the data is bad.
    refused = _calls(mapping_set, conversation, [201, 201], prefix="r")
    for delivery in refused:
        delivery.attempts.update(outcome="failed")
    Delivery.objects.create(
        mapping_set=mapping_set,
        environment=mapping_set.environment,
        status="rejected",
        received_payload={},
        reason="rejected by the mapping",
    )  # fmt: skip: no Braze call at all
    [found] = conditions.firing(rule, timezone.now())
    assert "2 of 4 Braze calls failed" in found.summary


def test_failure_rate_of_one_mapping_set_counts_that_set_only(
    mapping_set, prod_set, conversation, admin_client
):
    rule = _rule("failure_rate", mapping_set=mapping_set, threshold=50, min_calls=1)
    mine = _calls(mapping_set, conversation, [503])
    _calls(prod_set, conversation, [503], prefix="p")

    [found] = conditions.firing(rule, timezone.now())

    assert (found.subject, found.label) == (
        f"mapping_set:{mapping_set.pk}",
        "support-bot (sandbox)",
    )
    assert [a.delivery_id for a in _listed(admin_client, found.link)] == [mine[0].pk]


def test_calls_older_than_the_window_do_not_count(mapping_set, conversation):
    rule = _rule("failure_rate", threshold=50, min_calls=1, window_minutes=5)
    _calls(mapping_set, conversation, [503])
    assert conditions.firing(rule, timezone.now() + timedelta(minutes=6)) == []


def test_dead_delivery_fires_within_its_window_and_links_to_the_dead_ones(
    mapping_set, prod_set, conversation, admin_client
):
    rule = _rule("dead_delivery", window_minutes=10)
    [dead, _] = _calls(mapping_set, conversation, [503, 503])
    [prod_dead] = _calls(prod_set, conversation, [503], prefix="p")
    Delivery.objects.filter(pk__in=[dead.pk, prod_dead.pk]).update(status="dead")

    found = {f.label: f for f in conditions.firing(rule, timezone.now())}

    assert set(found) == {"sandbox", "prod"}
    assert [d.pk for d in _listed(admin_client, found["sandbox"].link)] == [dead.pk]
    assert conditions.firing(rule, timezone.now() + timedelta(minutes=11)) == []


def test_queue_age_fires_for_the_environment_whose_oldest_waiting_delivery_is_too_old(
    mapping_set, prod_set, admin_client
):
    rule = _rule("queue_age", threshold=600)
    old, _ = (
        Delivery.objects.create(mapping_set=mapping_set, environment=mapping_set.environment,
                                status="pending", received_payload={})
        for _ in range(2)
    )  # fmt: skip
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    Delivery.objects.create(
        mapping_set=prod_set,
        environment=prod_set.environment,
        status="retrying",
        received_payload={},
    )  # fmt: skip: prod's is young

    [found] = conditions.firing(rule, timezone.now())

    assert found.label == "sandbox"
    assert found.summary == (
        "sandbox: the oldest waiting delivery is 30 min old (1 waiting longer than 10 min)"
    )
    assert [d.pk for d in _listed(admin_client, found.link)] == [old.pk]  # not the young one
    Delivery.objects.filter(pk=old.pk).update(status="delivered")
    assert conditions.firing(rule, timezone.now()) == []


def test_canary_failing_follows_the_newest_run_of_each_environment(environment, prod_set):
    rule = _rule("canary_failing")
    now = timezone.now()
    CanaryRun.objects.create(environment=environment, started_at=now - timedelta(minutes=5),
                             ok=True, kind="ok", summary="fine")  # fmt: skip
    CanaryRun.objects.create(environment=environment, started_at=now, ok=False,
                             kind="wrong_key", summary="Braze refused the key (401)")  # fmt: skip
    CanaryRun.objects.create(environment=prod_set.environment, started_at=now - timedelta(1),
                             ok=False, kind="outage", summary="503")  # fmt: skip
    CanaryRun.objects.create(environment=prod_set.environment, started_at=now, ok=True,
                             kind="ok", summary="fine")  # fmt: skip

    [found] = conditions.firing(rule, now)

    assert found.summary == (
        "sandbox: the Braze canary failed (wrong_key): Braze refused the key (401)"
    )
    assert found.link.endswith(
        f"/admin/mappings/canaryrun/?environment__id__exact={environment.pk}"
    )
    # A run in flight has no verdict yet: the failed one before it still fires.
    CanaryRun.objects.create(environment=environment, ok=None, kind="running", summary="…")
    assert [f.subject for f in conditions.firing(rule, timezone.now())] == [found.subject]
    CanaryRun.objects.create(environment=environment, ok=True, kind="ok", summary="fine")
    assert conditions.firing(rule, timezone.now()) == []


def _park(environment, parked: bool) -> None:
    DeliveryGate.objects.update_or_create(
        environment=environment, defaults={"paused_reason": "Braze answered 401" if parked else ""}
    )


def _told(rule) -> list[tuple[str, str]]:
    rows = AlertNotification.objects.filter(rule=rule).order_by("sent_at", "id")
    return list(rows.values_list("transition", "channel"))


def test_a_flap_inside_the_cooldown_sends_nothing_and_the_held_clear_goes_after_it(
    environment, mailoutbox
):
    rule = _rule("parked", cooldown_minutes=15)
    start = timezone.now()
    _park(environment, True)
    assert len(evaluate_all(start)) == 1

    for minute, parked in [(1, False), (2, True), (3, False)]:  # flapping inside the cool-down
        _park(environment, parked)
        assert evaluate_all(start + timedelta(minutes=minute)) == []
    assert evaluate_all(start + timedelta(minutes=14)) == []
    [cleared] = evaluate_all(start + timedelta(minutes=15))

    assert cleared.transition == "cleared"
    assert _told(rule) == [("started", "email"), ("cleared", "email")]
    assert [m.subject.split(":")[0] for m in mailoutbox] == ["[bridge] STARTED", "[bridge] CLEARED"]
    assert evaluate_all(start + timedelta(minutes=40)) == []


def test_a_flap_back_to_what_was_told_sends_nothing_even_after_the_cooldown(environment):
    rule = _rule("parked", cooldown_minutes=15)
    start = timezone.now()
    _park(environment, True)
    evaluate_all(start)
    _park(environment, False)
    evaluate_all(start + timedelta(minutes=1))
    _park(environment, True)  # firing again, as last told
    assert evaluate_all(start + timedelta(minutes=30)) == []
    assert _told(rule) == [("started", "email")]


def test_two_evaluators_at_once_send_one_message(environment, monkeypatch, mailoutbox):
    _rule("parked")
    _park(environment, True)
    decide = evaluation._message_due
    other: list = []

    def other_evaluator_runs_first(rule, state, now):
        # This evaluator has read the state; another one evaluates fully before it goes on.
        if not other:
            other.append("running")
            other.append(evaluation.evaluate_all(now))
        return decide(rule, state, now)

    monkeypatch.setattr(evaluation, "_message_due", other_evaluator_runs_first)
    ours = evaluation.evaluate_all()

    assert len(other[1]) == 1 and ours == []
    assert len(mailoutbox) == 1
    assert AlertState.objects.get().notified_firing is True


def test_a_rule_that_cannot_be_evaluated_does_not_stop_the_others(environment, monkeypatch, caplog):
    broken, working = _rule("queue_age", threshold=1), _rule("parked")
    _park(environment, True)

    def fails(rule, now):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(conditions.KINDS, "queue_age", fails)
    [sent] = evaluate_all()

    assert sent.rule == working
    assert f"Alert rule {broken.pk} could not be evaluated" in caplog.text


def test_inactive_rules_are_not_evaluated(environment):
    _rule("parked", is_active=False)
    _park(environment, True)
    assert evaluate_all() == []
    assert not AlertState.objects.exists()


def test_rotating_encryption_keys_re_encrypts_the_webhook_url(settings):
    rule = AlertRule(name="r", kind="parked")
    rule.set_webhook_url("https://hooks.slack.com/services/T0/B0/secret")
    rule.save()
    old = rule.webhook_url_ciphertext
    new_key = "Mj6s0x5pQ5a3r4dVdJ5mR2Y3cTn6v9Qy8wZ1b4e7h0k="
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [new_key, *settings.BRAZE_KEY_ENCRYPTION_KEYS]

    call_command("rotate_encryption_keys", stdout=io.StringIO())

    rule.refresh_from_db()
    assert rule.webhook_url_ciphertext != old
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [new_key]  # the old key dropped: the new one opens it
    assert rule.webhook_url() == "https://hooks.slack.com/services/T0/B0/secret"
