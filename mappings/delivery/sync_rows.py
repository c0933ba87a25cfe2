"""Sync mode's two writes on PostgreSQL, one statement each, in autocommit.

A sync ingest waits for every round trip it makes, and on a busy machine each one also costs
a hand-over between the web process and PostgreSQL. Written with the ORM, the write before the
call (lease the row and count its try, then insert the stamped attempt row) and the write after
it (the answer on the attempt, then the delivery's outcome) are each a transaction of two
statements: four round trips apiece, and the ORM compiling three statements per ingest. Here
each is one data-modifying statement (a ``WITH ... UPDATE ... RETURNING`` feeding the second
write), which PostgreSQL runs atomically on its own; the statements are built once. Rules kept:
the row is leased only while still as written and due (the same conditions as
``outbox.claimable``, the older-open check included), the attempt row is committed with the
lease before the call, and the answer is written only while the lease is still ours.

SQLite has no data-modifying ``WITH``: there the sync path makes the same writes with the ORM,
each in a transaction (mappings/delivery/sync_send.py). The names are the tables' own;
tests/test_sync_send.py runs both paths and compares the rows they write.
"""

import uuid
from datetime import datetime

from django.db import connection

from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import OPEN_STATUSES, AttemptOutcome, DeliveryStatus

LEASE_AND_STAMP_SQL = """
WITH leased AS (
    UPDATE "mappings_delivery" AS d
    SET "status" = %s, "lease_token" = %s, "lease_expires_at" = %s, "updated_at" = %s,
        "attempt_count" = d."attempt_count" + 1
    WHERE d."id" = %s AND d."status" = %s AND d."attempt_count" = %s
        AND d."next_attempt_at" <= %s
        AND NOT EXISTS (
            SELECT 1 FROM "mappings_delivery" AS older
            WHERE older."environment_id" = d."environment_id"
                AND older."external_id" = d."external_id"
                AND older."status" IN (%s, %s, %s)
                AND older."created_at" < d."created_at"
        )
    RETURNING d."id", d."attempt_count", d."environment_id", d."mapping_set_id"
)
INSERT INTO "mappings_deliveryattempt" (
    "delivery_id", "attempt_number", "environment_id", "mapping_set_id", "request_body",
    "created_at", "sent_at", "url", "batch_id", "batch_size", "outcome", "response_body",
    "error", "ambiguous"
)
SELECT "id", "attempt_count", "environment_id", "mapping_set_id", %s,
    %s, %s, %s, %s, 1, %s, '', '', false
FROM leased
RETURNING "id"
"""

RECORD_DELIVERED_SQL = """
WITH delivered AS (
    UPDATE "mappings_delivery"
    SET "status" = %s, "reason" = '', "lease_token" = NULL, "lease_expires_at" = NULL,
        "next_attempt_at" = NULL
    WHERE "id" = %s AND "lease_token" = %s
    RETURNING "id"
)
UPDATE "mappings_deliveryattempt"
SET "outcome" = %s, "error" = '', "response_status" = %s, "response_body" = %s,
    "duration_ms" = %s
WHERE "id" = %s AND "delivery_id" IN (SELECT "id" FROM delivered)
RETURNING "id"
"""


def supported() -> bool:
    return connection.vendor == "postgresql"


def lease_and_stamp(
    delivery: Delivery,
    *,
    token: uuid.UUID,
    lease_expires_at: datetime,
    now: datetime,
    request_body: dict,
    url: str,
    batch_id: uuid.UUID,
) -> int | None:
    """Lease the delivery as written, count its try and write its attempt row stamped as sent
    at ``now``; returns the attempt row's id, or None (nothing written) when the delivery is
    no longer as written or not due."""
    body = DeliveryAttempt._meta.get_field("request_body").get_db_prep_save(
        request_body, connection
    )
    params = [
        DeliveryStatus.IN_FLIGHT.value, token, lease_expires_at, now,
        delivery.pk, DeliveryStatus.PENDING.value, delivery.attempt_count, now,
        *(status.value for status in OPEN_STATUSES),
        body, now, now, url, batch_id, AttemptOutcome.PENDING.value,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(LEASE_AND_STAMP_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


def record_delivered(
    delivery_id: uuid.UUID,
    attempt_id: int,
    *,
    token: uuid.UUID,
    response_status: int,
    response_body: str,
    duration_ms: int,
) -> bool:
    """Braze took it whole: the attempt's answer and the delivery's ``delivered``, only while
    ``token`` still holds the lease; True when written."""
    params = [
        DeliveryStatus.DELIVERED.value, delivery_id, token,
        AttemptOutcome.SUCCESS.value, response_status, response_body, duration_ms, attempt_id,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(RECORD_DELIVERED_SQL, params)
        return cursor.fetchone() is not None
