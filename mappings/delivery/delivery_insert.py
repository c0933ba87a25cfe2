"""The one INSERT every ingest writes: a new Delivery row, with a statement built once.

``Model.save()`` would compile the INSERT anew for every row, and Django's PostgreSQL cursor
quotes each value into the statement's text (client-side binding), the whole conversation
included. Here the statement is built once from the model's fields; on PostgreSQL the values
travel beside it on a psycopg server-binding cursor, which psycopg turns into a prepared
statement after a few uses on a connection (its ``prepare_threshold``). Only this statement binds
server-side: Django's ``server_side_binding`` option would do so for every query, and a bound
statement holds at most 65,535 values, which Django's bulk deletes go past.

Each value is prepared by its own field (``pre_save``, then ``get_db_prep_save``), as ``save()``
prepares it; tests/test_outbox_delivery.py checks that a row written here equals the row
``save()`` writes. bench/delivery_insert.py measures it beside ``save()`` and beside the same
statement on Django's client-side binding cursor (docs/benchmarks.md has the figures).
"""

import functools
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from mappings.models import Delivery


def insert(delivery: Delivery) -> Delivery:
    """Write ``delivery`` as a new row; returns it as a saved instance (``Model.from_db``)."""
    # The connection itself, looked up once: each attribute read through the ``connection``
    # proxy is a thread-local lookup, and field preparation reads it several times per column.
    db = connections[DEFAULT_DB_ALIAS]
    write_row(db, prepared_values(db, delivery))
    names = [field.attname for field in Delivery._meta.concrete_fields]
    return Delivery.from_db(db.alias, names, [getattr(delivery, name) for name in names])


def prepared_values(db: BaseDatabaseWrapper, delivery: Delivery) -> list[Any]:
    """The INSERT's parameters, in column order, as the database backend takes them."""
    return [
        field.get_db_prep_save(field.pre_save(delivery, True), db)
        for field in Delivery._meta.concrete_fields
    ]


def write_row(db: BaseDatabaseWrapper, values: list[Any]) -> None:
    """Run the INSERT with ``values`` (from ``prepared_values``)."""
    with _insert_cursor(db) as cursor:
        cursor.execute(insert_sql(db.vendor), values)


def _insert_cursor(db: BaseDatabaseWrapper):
    """Django's cursor; on PostgreSQL a psycopg server-binding cursor in Django's own wrapper
    (``make_cursor``, or ``make_debug_cursor`` while queries are logged), so the INSERT gets the
    same error translation, execute wrappers and query log as any other statement."""
    if db.vendor != "postgresql":
        return db.cursor()
    db.ensure_connection()
    cursor = psycopg.Cursor(db.connection)
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


@functools.cache
def insert_sql(vendor: str) -> str:
    """The INSERT statement, with one placeholder per column."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = Delivery._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {quote(Delivery._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
