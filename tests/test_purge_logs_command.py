"""purge_logs: deletes old finished deliveries in batches, never open ones, never by default."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mappings.models import AlertNotification, AlertRule, CanaryRun, Delivery, DeliveryAttempt
from mappings.models.audit import DeliveryStatus

pytestmark = pytest.mark.django_db


def _delivery(mapping_set, status: str, age_days: int) -> Delivery:
    delivery = Delivery.objects.create(
        mapping_set=mapping_set, environment=mapping_set.environment, received_payload={},
        status=status, external_id=f"{status}-{age_days}",
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        delivery=delivery, environment=mapping_set.environment, mapping_set=mapping_set,
        url="http://127.0.0.1/users/track", request_body={},
    )  # fmt: skip
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(days=age_days)
    )
    return delivery


def test_it_purges_old_finished_deliveries_in_batches_and_keeps_open_ones(mapping_set):
    for status in DeliveryStatus.values:
        _delivery(mapping_set, status, age_days=100)
        _delivery(mapping_set, status, age_days=10)
    out = StringIO()

    call_command("purge_logs", "--days", "30", "--batch-size", "2", stdout=out)

    kept = set(Delivery.objects.values_list("external_id", flat=True))
    assert kept == {f"{status}-10" for status in DeliveryStatus.values} | {
        "pending-100", "in_flight-100", "retrying-100",
    }  # fmt: skip
    assert DeliveryAttempt.objects.count() == len(kept)
    assert "purged 2 deliveries, 2 Braze calls so far" in out.getvalue()
    assert "Purged 4 deliveries and 4 Braze calls." in out.getvalue()


def test_it_uses_the_retention_setting_only_when_asked(mapping_set, settings):
    settings.DELIVERY_RETENTION_DAYS = 200
    _delivery(mapping_set, DeliveryStatus.DELIVERED, age_days=100)
    _delivery(mapping_set, DeliveryStatus.DELIVERED, age_days=300)

    call_command("purge_logs", "--use-retention-setting", stdout=StringIO())

    assert list(Delivery.objects.values_list("external_id", flat=True)) == ["delivered-100"]


def test_it_refuses_to_run_without_an_explicit_retention(mapping_set):
    _delivery(mapping_set, DeliveryStatus.DELIVERED, age_days=100)

    with pytest.raises(CommandError):
        call_command("purge_logs", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("purge_logs", "--days", "0", stdout=StringIO())
    assert Delivery.objects.count() == 1


def test_a_dry_run_only_counts(mapping_set):
    _delivery(mapping_set, DeliveryStatus.FAILED, age_days=100)
    out = StringIO()

    call_command("purge_logs", "--days", "30", "--dry-run", stdout=out)

    assert (
        "Dry run: 1 deliveries, 0 canary runs and 0 alert messages would be purged"
        in out.getvalue()
    )
    assert Delivery.objects.count() == 1


def _canary_run(environment, age_days: int, ok: bool | None) -> CanaryRun:
    return CanaryRun.objects.create(
        environment=environment, started_at=timezone.now() - timedelta(days=age_days), ok=ok,
        kind="ok" if ok else ("running" if ok is None else "wrong_key"), summary=f"{age_days}",
    )  # fmt: skip


def test_old_canary_runs_and_alert_messages_go_but_each_environments_newest_runs_stay(
    mapping_set,
):
    environment = mapping_set.environment
    for age in (300, 200, 100):
        _canary_run(environment, age, ok=False)
    newest_finished = _canary_run(environment, 90, ok=False)
    newest = _canary_run(environment, 80, ok=None)  # cut by a crash: never finished
    recent = _canary_run(environment, 5, ok=True)
    rule = AlertRule.objects.create(
        name="Parked", kind="parked", email_recipients="oncall@example.com"
    )
    for age in (100, 5):
        AlertNotification.objects.create(
            rule=rule, subject_label="sandbox", transition="started", channel="email",
            sent_at=timezone.now() - timedelta(days=age), ok=True,
        )  # fmt: skip
    out = StringIO()

    call_command("purge_logs", "--days", "30", "--dry-run", stdout=out)
    assert "5 canary runs and 1 alert messages would be purged" in out.getvalue()
    call_command("purge_logs", "--days", "30", stdout=out)

    assert "Purged 5 canary runs and 1 alert messages." in out.getvalue()
    kept = set(CanaryRun.objects.values_list("pk", flat=True))
    assert kept == {recent.pk}  # the newest runs are the recent ones: the old ones all go
    assert AlertNotification.objects.count() == 1
    assert {newest_finished.pk, newest.pk}.isdisjoint(kept)  # 90 and 80 days old: gone


def test_an_environment_whose_runs_are_all_old_keeps_its_newest_and_newest_finished(
    mapping_set,
):
    environment = mapping_set.environment
    _canary_run(environment, 300, ok=True)
    finished = _canary_run(environment, 200, ok=False)
    running = _canary_run(environment, 100, ok=None)

    call_command("purge_logs", "--days", "30", stdout=StringIO())

    assert set(CanaryRun.objects.values_list("pk", flat=True)) == {finished.pk, running.pk}
