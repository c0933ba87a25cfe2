"""Attempt rows written in bulk, copied from their deliveries' stored rows.

A worker writes the attempt rows of a request just before sending it (dispatch.py). Model
instances and ``bulk_create`` would prepare every field of every row and ship each Braze body
back to the database that already holds it; one ``INSERT ... SELECT`` copies what the delivery
rows hold (id, attempt number, environment, mapping set, body) instead, and only the values the
whole request shares are parameters. Standard SQL with ``RETURNING``: PostgreSQL and SQLite 3.35+.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import AttemptOutcome

# Each delivery's row is copied from what the delivery holds; the values the whole request shares
# are parameters, in the order of ``_SHARED``. The names are the tables' own (migrations 0007 and
# later); tests/test_outbox_delivery.py checks them against the models, so a renamed column fails
# a test rather than a worker.
INSERT_SENT_SQL = """
INSERT INTO "mappings_deliveryattempt" (
    "delivery_id", "attempt_number", "environment_id", "mapping_set_id", "request_body",
    "created_at", "sent_at", "url", "batch_id", "batch_size", "outcome", "response_body",
    "error", "ambiguous"
)
SELECT "id", "attempt_count", "environment_id", "mapping_set_id", "braze_payload",
    %s, %s, %s, %s, %s, %s, %s, %s, %s
FROM "mappings_delivery"
WHERE "lease_token" = %s AND "id" IN ({ids})
RETURNING "id", "delivery_id"
"""
_SHARED = (
    "created_at",
    "sent_at",
    "url",
    "batch_id",
    "batch_size",
    "outcome",
    "response_body",
    "error",
    "ambiguous",
)


def insert_sent(
    delivery_ids: Sequence[uuid.UUID],
    *,
    lease_token: uuid.UUID,
    url: str,
    sent_at: datetime,
    batch_id: uuid.UUID,
    batch_size: int,
) -> dict[uuid.UUID, int]:
    """Write the stamped attempt row of each delivery that ``lease_token`` still holds.

    Each row is numbered by its delivery's ``attempt_count`` (already counted for this try) and
    sends the delivery's stored ``braze_payload`` as it is. Returns {delivery id: attempt id}.
    """
    if not delivery_ids:
        return {}
    shared = {
        "created_at": sent_at,
        "sent_at": sent_at,
        "url": url,
        "batch_id": batch_id,
        "batch_size": batch_size,
        "outcome": AttemptOutcome.PENDING.value,
        "response_body": "",
        "error": "",
        "ambiguous": False,
    }
    params = [_prepared(DeliveryAttempt, name, shared[name]) for name in _SHARED]
    params.append(_prepared(Delivery, "lease_token", lease_token))
    params += [_prepared(Delivery, "id", pk) for pk in delivery_ids]
    # Only placeholders are formatted in: one per delivery id, each bound as a parameter.
    sql = INSERT_SENT_SQL.format(ids=", ".join(["%s"] * len(delivery_ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    to_uuid = Delivery._meta.pk.to_python
    return {to_uuid(delivery_id): attempt_id for attempt_id, delivery_id in rows}


def _prepared(model, field_name: str, value):
    """The value as the database backend stores it for this field (a UUID as text on SQLite, a
    datetime as an ISO string there, both as themselves on PostgreSQL)."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)
