"""Attempt rows written in bulk, copied from their deliveries' stored rows.

A worker writes the attempt rows of a request just before sending it (dispatch.py). Built as
model instances, ``bulk_create`` of a request's 75 rows cost the worker more CPU than the rest
of sending it: every field of every row prepared and quoted, and each Braze body shipped back
to the database that already holds it. Here one ``INSERT ... SELECT`` copies what the delivery
rows hold (id, attempt number, environment, mapping set, body); only the values the whole
request shares are parameters. Standard SQL with ``RETURNING``: PostgreSQL and SQLite 3.35+.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import AttemptOutcome

# Filled per row from the delivery (SELECT list below, same order).
_FROM_DELIVERY = {
    "delivery_id": "id",
    "attempt_number": "attempt_count",
    "environment_id": "environment_id",
    "mapping_set_id": "mapping_set_id",
    "request_body": "braze_payload",
}
# The same for every row of the request (parameters, in this order).
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
    quote = connection.ops.quote_name
    columns = [*_FROM_DELIVERY, *_SHARED]
    selected = [quote(column) for column in _FROM_DELIVERY.values()]
    # Only our own table and column names are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(column) for column in columns)}) "
        f"SELECT {', '.join(selected + ['%s'] * len(_SHARED))} "
        f"FROM {quote(Delivery._meta.db_table)} "
        f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(delivery_ids))}) "
        f"AND {quote('lease_token')} = %s "
        f"RETURNING {quote('id')}, {quote('delivery_id')}"
    )
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
    params += [_prepared(Delivery, "id", pk) for pk in delivery_ids]
    params.append(_prepared(Delivery, "lease_token", lease_token))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    to_uuid = Delivery._meta.pk.to_python
    return {to_uuid(delivery_id): attempt_id for attempt_id, delivery_id in rows}


def _prepared(model, field_name: str, value):
    """The value as the database backend stores it for this field (a UUID as text on SQLite, a
    datetime as an ISO string there, both as themselves on PostgreSQL)."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)
