"""The one INSERT every ingest writes: a new Delivery row, with a statement built once.

``Model.save()`` would compile the INSERT anew for every row, and Django's PostgreSQL cursor
quotes each value into the statement's text (client-side binding), the whole conversation
included. Here the statement is built once from the model's fields (mappings/row_insert.py,
which also prepares each value as ``save()`` does); on PostgreSQL the values travel beside it
on a psycopg server-binding cursor, which psycopg turns into a prepared statement after a few
uses on a connection (its ``prepare_threshold``). Only this statement binds server-side:
Django's ``server_side_binding`` option would do so for every query, and a bound statement
holds at most 65,535 values, which Django's bulk deletes go past.

tests/test_outbox_delivery.py checks that a row written here equals the row ``save()`` writes.
bench/delivery_insert.py measures it beside ``save()`` and beside the same statement on
Django's client-side binding cursor (docs/benchmarks.md has the figures).
"""

from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from mappings import row_insert
from mappings.models import Delivery


def insert(delivery: Delivery) -> Delivery:
    """Write ``delivery`` as a new row; returns it as a saved instance (``Model.from_db``)."""
    # The connection itself, looked up once: each attribute read through the ``connection``
    # proxy is a thread-local lookup, and field preparation reads it several times per column.
    db = connections[DEFAULT_DB_ALIAS]
    write_row(db, row_insert.prepared_values(db, delivery))
    names = [field.attname for field in Delivery._meta.concrete_fields]
    return Delivery.from_db(db.alias, names, [getattr(delivery, name) for name in names])


def write_row(db: BaseDatabaseWrapper, values: list[Any]) -> None:
    """Run the INSERT with ``values`` (from ``row_insert.prepared_values``)."""
    with _insert_cursor(db) as cursor:
        cursor.execute(row_insert.insert_sql(Delivery, db.vendor), values)


def _insert_cursor(db: BaseDatabaseWrapper):
    """Django's cursor; on PostgreSQL a psycopg server-binding cursor in Django's own wrapper
    (``make_cursor``, or ``make_debug_cursor`` while queries are logged), so the INSERT gets the
    same error translation, execute wrappers and query log as any other statement."""
    if db.vendor != "postgresql":
        return db.cursor()
    db.ensure_connection()
    cursor = psycopg.Cursor(db.connection)
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)
