"""Replaying deliveries by hand, and the mapping version recorded with each delivery."""

import pytest
from django.contrib.auth.models import User

from mappings.delivery import replays, worker
from mappings.fake_braze import Fault
from mappings.models import Delivery

pytestmark = pytest.mark.django_db


def test_a_failed_delivery_replays_as_a_new_attempt_by_the_user(ingest, braze, conversation):
    braze.add_fault(Fault(status=400, times=1))
    ingest.post("support-bot", conversation)
    failed = Delivery.objects.get()
    assert failed.status == "failed"
    operator = User.objects.create_user("operator")

    attempt = replays.replay(failed, triggered_by=operator)
    worker.drain_all()

    failed.refresh_from_db()
    attempt.refresh_from_db()
    assert failed.status == "delivered"
    assert attempt.attempt_number == 2
    assert attempt.triggered_by == operator
    assert attempt.outcome == "success"
    assert len(braze.received) == 2
    assert braze.received[1].body == failed.braze_payload


def test_a_delivered_delivery_cannot_be_replayed(ingest, braze, conversation):
    ingest.post("support-bot", conversation)

    with pytest.raises(replays.NotReplayable):
        replays.replay(Delivery.objects.get())
    assert len(braze.received) == 1


def test_each_delivery_records_the_mapping_version_that_produced_it(
    ingest, braze, conversation, mapping_set
):
    ingest.post("support-bot", conversation)
    mapping_set.bump_version()
    ingest.post("support-bot", conversation)

    versions = sorted(Delivery.objects.values_list("mapping_version", flat=True))
    assert versions == [1, 2]
