"""The sync path (mappings/delivery/sync_send.py and, on PostgreSQL, sync_rows.py): a sync ingest
is sent from its request, once, writing what a worker's send writes, in few statements; a
delivery a worker holds is never sent again by its request; a lost lease writes nothing."""

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mappings.delivery import braze as braze_client
from mappings.delivery import dispatch, outbox, sync_rows, sync_send, worker
from mappings.delivery.batching import Item, pack
from mappings.models import Delivery, DeliveryAttempt
from tests.conftest import conversation_for

# Attempt columns whose values depend on the moment or the row, not on the path that wrote it.
_OWN_VALUES = {"id", "delivery_id", "created_at", "sent_at", "batch_id", "duration_ms"}
_DELIVERY_STATE = ("status", "reason", "attempt_count", "lease_token", "lease_expires_at")


def _attempt_values(delivery_id) -> dict:
    [attempt] = DeliveryAttempt.objects.filter(delivery_id=delivery_id).values()
    assert attempt["sent_at"] is not None and attempt["batch_id"] is not None
    return {name: value for name, value in attempt.items() if name not in _OWN_VALUES}


def _state(delivery_id) -> dict:
    return Delivery.objects.filter(pk=delivery_id).values(*_DELIVERY_STATE, "next_attempt_at")[0]


def _delivery_ids(braze, kind: str = "attributes") -> list[str]:
    return [obj["external_id"] for obj in braze.accepted_objects(kind)]


def test_a_sync_ingest_writes_the_same_rows_as_a_worker_sending_it(ingest, braze):
    sync = ingest.post("support-bot", _same_but_user("u-sync"), mode="sync")
    queued = ingest.post("support-bot", _same_but_user("u-async"), mode="async")
    worker.drain_all()

    assert sync.status_code == 200 and sync.json()["status"] == "delivered"
    sync_id, async_id = sync.json()["delivery_id"], queued.json()["delivery_id"]
    assert _state(sync_id) == _state(async_id)
    assert _state(sync_id)["status"] == "delivered" and _state(sync_id)["attempt_count"] == 1
    sync_attempt, async_attempt = _attempt_values(sync_id), _attempt_values(async_id)
    for attempt in (sync_attempt, async_attempt):  # only the user differs
        attempt["request_body"]["attributes"][0].pop("external_id")
    assert sync_attempt == async_attempt
    assert sync_attempt["outcome"] == "success" and sync_attempt["response_status"] == 201
    assert _delivery_ids(braze) == ["u-sync", "u-async"]


def test_the_sync_answer_shows_the_attempt_as_stored(ingest, braze):
    answer = ingest.post("support-bot", conversation_for("u-1"), mode="sync").json()

    stored = DeliveryAttempt.objects.get(delivery_id=answer["delivery_id"])
    assert answer["braze"] == {"status": stored.response_status, "message": "success"}


def test_a_sync_ingest_sends_four_statements_and_opens_no_transaction_on_postgresql(ingest, braze):
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement writes are PostgreSQL's; SQLite uses transactions")
    ingest.post("support-bot", conversation_for("u-warm"), mode="sync")  # caches, lookups

    with CaptureQueriesContext(connection) as queries:
        answer = ingest.post("support-bot", conversation_for("u-1"), mode="sync")

    assert answer.json()["status"] == "delivered"
    sql = [query["sql"] for query in queries.captured_queries]
    # From the outbox INSERT on (what comes before it is the ingest's, not the send's):
    first = next(n for n, text in enumerate(sql) if text.startswith('INSERT INTO "mappings_del'))
    statements = [text.split(None, 1)[0] for text in sql[first:]]
    # the Delivery INSERT; environment + key + gate; lease + attempt row; the 2xx on both
    assert statements == ["INSERT", "SELECT", "WITH", "WITH"]


def test_a_delivery_a_worker_holds_is_not_sent_again_by_its_sync_request(
    mapping_set, braze, ingest
):
    """The embedded worker may claim a sync ingest's row between its INSERT and the request's
    own lease: then the worker sends it and the request does not."""
    written = ingest.post("support-bot", conversation_for("u-1"), mode="async").json()
    delivery = Delivery.objects.get(pk=written["delivery_id"])
    token, held = outbox.claim(mapping_set.environment_id, 10)  # the worker got there first

    sent = sync_send.send_now(delivery, dedup_attributes=False, deadline=time.monotonic() + 2)
    dispatch.send_claimed(token, held)

    assert sent.due is False and sent.attempt is None
    assert _delivery_ids(braze) == ["u-1"]  # once, by the worker
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_an_older_open_delivery_of_the_same_user_keeps_the_new_one_unsent(mapping_set, braze):
    older = outbox.add(_pending(mapping_set, "u-1"))
    newer = outbox.add(_pending(mapping_set, "u-1"))

    sent = sync_send.send_now(newer, dedup_attributes=False, deadline=time.monotonic() + 2)

    assert sent.due is False and braze.received == []
    assert _state(newer.pk)["status"] == "pending" and _state(older.pk)["status"] == "pending"
    assert not DeliveryAttempt.objects.exists()


def test_a_sync_send_whose_lease_was_taken_back_writes_no_outcome(mapping_set, braze):
    delivery = outbox.add(_pending(mapping_set, "u-1"))
    environment = mapping_set.environment
    claim = sync_send._fresh_claim(delivery, False, time.monotonic() + 2)
    stamp = dispatch.request_stamp(1)
    assert sync_send._lease_and_stamp(environment, claim, delivery, stamp)
    # The sweep took the lease back (the request looked lost) and made the row a retry.
    Delivery.objects.filter(pk=delivery.pk).update(lease_token=None, status="retrying")
    batch = pack([Item(delivery.pk, claim.attempts[delivery.pk].request_body)], limit=75)

    recorded = sync_send._record_answer(environment, claim, batch[0], _answer_201())

    assert recorded == 0
    assert _state(delivery.pk)["status"] == "retrying"
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.outcome == "pending" and attempt.response_status is None


def test_the_sync_statements_name_the_tables_and_columns_the_models_have():
    """sync_rows writes its statements by name: a renamed column must fail here."""
    tables = {model._meta.db_table: model for model in (Delivery, DeliveryAttempt)}
    for sql in (sync_rows.LEASE_AND_STAMP_SQL, sync_rows.RECORD_DELIVERED_SQL):
        names = set(re.findall(r'"(\w+)"', sql)) - set(tables)
        columns = {f.column for model in tables.values() for f in model._meta.concrete_fields}
        assert names and names <= columns, names - columns
        assert set(re.findall(r'(?:UPDATE|INTO|FROM) "(\w+)"', sql)) <= set(tables)


def _same_but_user(user: str) -> dict:
    conversation = conversation_for(user)
    conversation["user"]["profile"]["email"] = "zoe@example.com"
    return conversation


def _pending(mapping_set, user: str) -> Delivery:
    payload = {"attributes": [{"external_id": user, "email": f"{user}@example.com"}]}
    return Delivery(
        mapping_set=mapping_set, environment=mapping_set.environment, external_id=user,
        received_payload={"user": {"id": user}}, braze_payload=payload,
        mapping_version=mapping_set.version, next_attempt_at=timezone.now(),
    )  # fmt: skip


def _answer_201() -> braze_client.BrazeAnswer:
    text = '{"message": "success", "attributes_processed": 1}'
    return braze_client.BrazeAnswer(201, {"message": "success"}, text, {}, 2)
