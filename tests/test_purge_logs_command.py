"""purge_logs: deletes old finished deliveries in batches, never open ones, never by default."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mappings.models import Delivery, DeliveryAttempt
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

    assert "1 deliveries would be purged" in out.getvalue()
    assert Delivery.objects.count() == 1
