"""Async delivery through the outbox: batching, retries, rate limits, parking, dead, order.

The worker runs in the test's thread (``worker.drain_all``), against the fake Braze over HTTP.
"""

import re
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mappings.delivery import attempt_rows, dispatch, outbox, recovery, replays, worker
from mappings.fake_braze import Fault
from mappings.models import DeliveredAttributes, Delivery, DeliveryAttempt, DeliveryGate
from tests.conftest import BRAZE_KEY, conversation_for

pytestmark = pytest.mark.django_db


def _send_async(ingest, count: int, prefix: str = "u") -> list[str]:
    return ingest.send_async("support-bot", *(f"{prefix}{number}" for number in range(count)))


def _drain_until_settled(max_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + max_seconds
    while Delivery.objects.filter(status__in=["pending", "retrying", "in_flight"]).exists():
        assert time.monotonic() < deadline, "deliveries did not settle"
        worker.drain_all()
        time.sleep(0.02)


def _accepted_ids(braze) -> list[str]:
    return [obj["external_id"] for obj in braze.accepted_objects("attributes")]


def test_async_mode_answers_202_at_once_and_braze_is_called_only_by_the_worker(ingest, braze):
    response = ingest.post("support-bot", conversation_for("u1"), mode="async")

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "accepted"
    assert braze.received == []
    delivery = Delivery.objects.get(pk=body["delivery_id"])
    assert delivery.status == "pending"
    assert not delivery.attempts.exists()  # no try yet: the sender writes the attempt row

    worker.drain_all()

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.attempt_count == 1
    assert _accepted_ids(braze) == ["u1"]
    [attempt] = delivery.attempts.all()
    assert attempt.attempt_number == 1 and attempt.outcome == "success"
    assert attempt.sent_at is not None and attempt.request_body == delivery.braze_payload


def test_async_deliveries_are_packed_into_requests_of_at_most_75_objects(ingest, braze):
    _send_async(ingest, 160)

    worker.drain_all()

    assert [len(r.body["attributes"]) for r in braze.received] == [75, 75, 10]
    assert sorted(_accepted_ids(braze)) == sorted(f"u{n}" for n in range(160))
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    attempt = DeliveryAttempt.objects.filter(batch_size=75).first()
    assert attempt.request_body["attributes"][0]["external_id"].startswith("u")


def test_a_partial_success_fails_exactly_the_records_braze_rejected(ingest, braze):
    ids = _send_async(ingest, 3)
    braze.add_fault(Fault(reject_indexes={"attributes": [1]}, times=1))

    worker.drain_all()

    assert len(braze.received) == 1
    statuses = [Delivery.objects.get(pk=pk).status for pk in ids]
    assert statuses == ["delivered", "failed", "delivered"]
    failed = Delivery.objects.get(pk=ids[1])
    assert "attributes[0]" in failed.reason  # its own index, as if sent alone
    worker.drain_all()
    assert len(braze.received) == 1  # no blind retry of the batch


def test_5xx_is_retried_with_backoff_until_braze_recovers(ingest, braze):
    _send_async(ingest, 5)
    braze.add_fault(Fault(status=503, times=2))

    _drain_until_settled()

    assert sorted(_accepted_ids(braze)) == [f"u{n}" for n in range(5)]
    # The second 503 answered the empty probe sent before any retry (delivery/recovery.py):
    # it spent no delivery's attempt.
    requests = [(request.status, request.body == {}) for request in braze.received]
    assert requests == [(503, False), (503, True), (400, True), (201, False)]
    delivery = Delivery.objects.first()
    assert [a.outcome for a in delivery.attempts.order_by("attempt_number")] == [
        "failed",
        "success",
    ]


@pytest.mark.parametrize("header_style", ["classic", "delta", "retry_after"])
def test_a_429_holds_every_request_until_the_advertised_reset(ingest, braze, header_style):
    braze.add_fault(Fault(status=429, times=1, reset_in=1.0, header_style=header_style))
    _send_async(ingest, 2, prefix="a")
    started = time.time()

    _drain_until_settled()

    first, *later = braze.received
    assert first.status == 429
    # classic headers name a whole epoch second: the reset is at or after that second.
    reset = int(first.received_at) + 1 if header_style == "classic" else started + 1.0
    assert all(request.received_at >= reset - 0.05 for request in later)
    assert sorted(_accepted_ids(braze)) == ["a0", "a1"]


def test_it_gives_up_as_dead_after_the_attempt_bound_and_replay_delivers(
    ingest, braze, settings, environment
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    [pk] = _send_async(ingest, 1)
    for attempt in range(3):  # a flapping Braze: it answers each probe, then fails the retry
        if attempt:
            time.sleep(outbox.gate_state(environment.pk)[0])
            assert recovery.probe(environment.pk)  # Braze is back: the retry is due now
        braze.add_fault(Fault(status=500, times=1))
        worker.drain_all()

    dead = Delivery.objects.get(pk=pk)
    assert dead.status == "dead"
    assert "Gave up" in dead.reason
    replays.replay(dead)
    _drain_until_settled()
    assert Delivery.objects.get(pk=pk).status == "delivered"
    assert _accepted_ids(braze) == ["u0"]


def test_it_retries_for_the_whole_retry_window_before_giving_up(ingest, braze, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 1000
    [pk] = _send_async(ingest, 1)
    braze.add_fault(Fault(status=503, for_seconds=60))
    worker.drain_all()
    # Fast-forward: the delivery is 23 h old, still inside the 27 h window.
    Delivery.objects.filter(pk=pk).update(
        created_at=timezone.now() - timedelta(hours=23), next_attempt_at=timezone.now()
    )
    DeliveryGate.objects.update(blocked_until=None)
    worker.drain_all()
    assert Delivery.objects.get(pk=pk).status == "retrying"

    Delivery.objects.filter(pk=pk).update(
        created_at=timezone.now() - timedelta(hours=28), next_attempt_at=timezone.now()
    )
    DeliveryGate.objects.update(blocked_until=None)
    worker.drain_all()
    assert Delivery.objects.get(pk=pk).status == "dead"


def test_400_is_not_retried_and_keeps_brazes_message(ingest, braze):
    [pk] = _send_async(ingest, 1)
    braze.add_fault(Fault(status=400, times=1))

    _drain_until_settled()

    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == "failed"
    assert "400" in delivery.reason
    assert len(braze.received) == 1


def test_a_bad_key_parks_the_environment_until_the_key_is_fixed(ingest, braze, environment):
    environment.credential.set_api_key("wrong-key-0000")
    environment.credential.save()
    first, second = _send_async(ingest, 1, prefix="a")[0], None
    worker.drain_all()
    assert Delivery.objects.get(pk=first).status == "failed"
    assert "Credential problem" in Delivery.objects.get(pk=first).reason
    second = _send_async(ingest, 1, prefix="b")[0]

    worker.drain_all()

    assert Delivery.objects.get(pk=second).status == "pending"  # parked, not dropped
    assert len(braze.received) == 1
    environment.credential.set_api_key(BRAZE_KEY)
    environment.credential.save()  # saving the key resumes the environment
    replays.replay(Delivery.objects.get(pk=first))
    _drain_until_settled()
    assert sorted(_accepted_ids(braze)) == ["a0", "b0"]


def test_two_updates_for_one_user_reach_braze_in_order_despite_failures(ingest, braze):
    braze.add_fault(Fault(status=503, times=1))
    ingest.post("support-bot", conversation_for("u7", city="Lisbon"), mode="async")
    worker.drain_all()  # the first update fails once and waits for its retry
    ingest.post("support-bot", conversation_for("u7", city="Porto"), mode="async")

    _drain_until_settled()

    cities = [obj["home_city"] for obj in braze.accepted_objects("attributes")]
    assert cities == ["Lisbon", "Porto"]


def test_unchanged_attributes_are_skipped_and_logged_when_the_set_opts_in(
    ingest, braze, mapping_set
):
    mapping_set.dedup_unchanged_attributes = True
    mapping_set.save()
    ingest.post("support-bot", conversation_for("u1", city="Lisbon"))

    response = ingest.post("support-bot", conversation_for("u1", city="Porto"))

    assert response.json()["skipped_attributes"] == ["email", "first_name"]
    assert braze.received[1].body["attributes"] == [{"external_id": "u1", "home_city": "Porto"}]
    unchanged = ingest.post("support-bot", conversation_for("u1", city="Porto"))
    assert unchanged.json()["status"] == "delivered"
    assert "unchanged" in Delivery.objects.get(pk=unchanged.json()["delivery_id"]).reason
    assert len(braze.received) == 2


def test_one_request_logs_each_record_with_the_body_it_sent(ingest, braze, mapping_set):
    """Attempt rows are written as the request goes: copied from the stored delivery, or, where
    unchanged attributes were left out, with the trimmed body."""
    mapping_set.dedup_unchanged_attributes = True
    mapping_set.save()
    first = ingest.post("support-bot", conversation_for("u1", city="Lisbon"))  # sync: remembered
    trimmed = ingest.post("support-bot", conversation_for("u1", city="Porto"), mode="async")
    plain = _send_async(ingest, 2, prefix="v")

    worker.drain_all()

    [request] = braze.received[1:]
    assert len(request.body["attributes"]) == 3
    attempts = DeliveryAttempt.objects.exclude(delivery_id=first.json()["delivery_id"])
    by_delivery = {str(a.delivery_id): a for a in attempts}
    assert set(by_delivery) == {trimmed.json()["delivery_id"], *plain}
    sent_trimmed = by_delivery[trimmed.json()["delivery_id"]].request_body
    assert sent_trimmed == {"attributes": [{"external_id": "u1", "home_city": "Porto"}]}
    for pk in plain:
        assert by_delivery[pk].request_body == Delivery.objects.get(pk=pk).braze_payload
    assert {(a.batch_id, a.batch_size, a.sent_at) for a in by_delivery.values()} == {
        (by_delivery[plain[0]].batch_id, 3, by_delivery[plain[0]].sent_at)
    }
    assert {(a.attempt_number, a.outcome, a.url) for a in by_delivery.values()} == {
        (1, "success", f"{braze.url}/users/track")
    }
    assert all(d.attempt_count == 1 for d in Delivery.objects.filter(pk__in=by_delivery))


def test_the_dedup_state_keeps_digests_not_the_attribute_values(ingest, braze, mapping_set):
    mapping_set.dedup_unchanged_attributes = True
    mapping_set.save()

    ingest.post("support-bot", conversation_for("u1", city="Lisbon"))

    state = DeliveredAttributes.objects.get(external_id="u1")
    assert set(state.values) == {"email", "first_name", "home_city"}
    assert "Lisbon" not in str(state.values)
    assert all(len(digest) == 64 for digest in state.values.values())


def test_the_sweep_takes_back_an_expired_lease_and_flags_the_attempt_ambiguous(ingest, braze):
    [pk] = _send_async(ingest, 1)
    environment_id = Delivery.objects.get().environment_id
    token, [held] = outbox.claim(environment_id, 10)
    # The worker wrote its attempt row, sent the request, and died before the answer.
    DeliveryAttempt.objects.create(
        delivery_id=pk,
        attempt_number=1,
        environment_id=environment_id,
        mapping_set_id=held.mapping_set_id,
        url="http://braze.invalid/users/track",
        request_body={},
        sent_at=timezone.now(),
    )
    Delivery.objects.filter(pk=pk).update(attempt_count=1)
    Delivery.objects.filter(pk=pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    swept_at = timezone.now()
    outbox.sweep(swept_at)

    interrupted = DeliveryAttempt.objects.get(delivery_id=pk, attempt_number=1)
    assert interrupted.ambiguous is True and interrupted.outcome == "failed"
    # Not due at once (the interrupted request may be applied at Braze): after a backoff.
    assert Delivery.objects.get(pk=pk).next_attempt_at > swept_at
    assert outbox.due_environment_ids(swept_at) == []
    _sleep_until_due(pk)
    worker.drain_all()
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == "delivered"
    assert delivery.attempts.count() == 2
    outbox.release(token, [pk], next_attempt_at=timezone.now(), status="pending")
    assert Delivery.objects.get(pk=pk).status == "delivered"  # a stale lease writes nothing


def _sleep_until_due(pk) -> None:
    retry_at = Delivery.objects.get(pk=pk).next_attempt_at
    time.sleep(max(0.0, (retry_at - timezone.now()).total_seconds()))


def test_two_claims_never_hold_the_same_delivery(ingest, braze, environment):
    _send_async(ingest, 10)

    _, first = outbox.claim(environment.pk, 6)
    _, second = outbox.claim(environment.pk, 6)

    assert len(first) == 6 and len(second) == 4
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_a_worker_that_lost_its_lease_sends_nothing_and_writes_nothing(ingest, braze, environment):
    [pk] = _send_async(ingest, 1)
    stale_token, stale = outbox.claim(environment.pk, 10)
    Delivery.objects.filter(pk=pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    outbox.sweep()  # the worker looked dead: its lease is taken back, due after a backoff
    _sleep_until_due(pk)
    new_token, _ = outbox.claim(environment.pk, 10)

    dispatch.send_claimed(stale_token, stale)

    assert braze.received == []
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.status == "in_flight" and delivery.lease_token == new_token
    assert not delivery.attempts.exists() and delivery.attempt_count == 0  # rolled back
    dispatch.send_claimed(new_token, outbox.held(new_token))
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 1
    [attempt] = delivery.attempts.all()
    assert attempt.attempt_number == 1 and attempt.outcome == "success"
    assert _accepted_ids(braze) == ["u0"]


def test_add_writes_the_same_row_as_save(mapping_set):
    """outbox.add, the ingest's own INSERT, stores every field as Model.save() would, and hands
    back an instance that saves as an update."""
    values = {
        "mapping_set": mapping_set,
        "environment": mapping_set.environment,
        "external_id": "Zoë-1",
        "idempotency_key": "key-1",
        "mapping_version": 3,
        "received_payload": {"user": {"name": "Zoë", "tags": ["a", 1, None, True]}},
        "braze_payload": {"attributes": [{"external_id": "Zoë-1", "first_name": "Zoë"}]},
        "problems": [{"row": 2, "reason": "bad date"}],
        "skipped_attributes": ["email"],
        "request_fingerprint": "f" * 64,
        "next_attempt_at": timezone.now(),
    }
    added = outbox.add(Delivery(**values))
    saved = Delivery(**{**values, "idempotency_key": "key-2"})
    saved.save()

    def stored(pk):
        row = Delivery.objects.filter(pk=pk).values().get()
        return {k: v for k, v in row.items() if k not in ("id", "idempotency_key")}

    from_add, from_save = stored(added.pk), stored(saved.pk)
    assert from_add["created_at"] is not None and from_add["updated_at"] is not None
    for timestamp in ("created_at", "updated_at"):
        assert abs(from_add.pop(timestamp) - from_save.pop(timestamp)) < timedelta(seconds=5)
    assert from_add == from_save
    assert from_add["status"] == "pending" and from_add["attempt_count"] == 0
    added.reason = "changed"
    added.save()  # an UPDATE: an instance still marked as new would INSERT its key again
    assert Delivery.objects.get(pk=added.pk).reason == "changed"


def _new_delivery(mapping_set, external_id: str, received_payload: dict | None = None):
    return Delivery(
        mapping_set=mapping_set,
        environment=mapping_set.environment,
        external_id=external_id,
        received_payload=received_payload or {"user": {"id": external_id}},
        braze_payload={"attributes": [{"external_id": external_id}]},
        next_attempt_at=timezone.now(),
    )


def test_add_sends_the_values_apart_from_the_statement_on_postgresql(mapping_set):
    """On PostgreSQL the INSERT binds its values server-side: the statement PostgreSQL receives
    has placeholders, not the conversation quoted into its text."""
    if connection.vendor != "postgresql":
        pytest.skip("server-side binding is PostgreSQL's")
    delivery = _new_delivery(mapping_set, "quote'me", received_payload={"said": "it's 'quoted'"})
    with CaptureQueriesContext(connection) as captured:
        outbox.add(delivery)

    [insert] = [query["sql"] for query in captured.captured_queries]
    assert insert.startswith('INSERT INTO "mappings_delivery"') and "$1" in insert
    assert "quote" not in insert
    stored = Delivery.objects.get(pk=delivery.pk)
    assert stored.external_id == "quote'me"
    assert stored.received_payload == {"said": "it's 'quoted'"}


@pytest.mark.django_db(transaction=True)
def test_add_keeps_working_across_a_reconnect_and_inside_a_rolled_back_transaction(mapping_set):
    """A closed connection (CONN_MAX_AGE, a failed health check) is replaced, and the INSERT
    writes inside the caller's transaction, so a rollback takes its row back."""
    outbox.add(_new_delivery(mapping_set, "before"))
    connection.close()
    outbox.add(_new_delivery(mapping_set, "after-reconnect"))
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.add(_new_delivery(mapping_set, "rolled-back"))
        raise RuntimeError("the caller's transaction fails")
    outbox.add(_new_delivery(mapping_set, "last"))

    stored = set(Delivery.objects.values_list("external_id", flat=True))
    assert stored == {"before", "after-reconnect", "last"}


def test_the_attempt_copy_names_the_tables_and_columns_the_models_have():
    """attempt_rows writes its INSERT ... SELECT by name: a renamed column must fail here."""
    sql = attempt_rows.INSERT_SENT_SQL
    into, selected = sql.split("SELECT", 1)
    selected, where = selected.split("WHERE", 1)
    where = where.split("RETURNING", 1)[0]
    assert f'INSERT INTO "{DeliveryAttempt._meta.db_table}"' in into
    assert f'FROM "{Delivery._meta.db_table}"' in selected
    for model, part in ((DeliveryAttempt, into), (Delivery, selected + where)):
        names = re.findall(r'"(\w+)"', part.split("(", 1)[-1] if model is DeliveryAttempt else part)
        names = [name for name in names if name != model._meta.db_table]
        columns = {field.column for field in model._meta.concrete_fields}
        assert names and set(names) <= columns, set(names) - columns
