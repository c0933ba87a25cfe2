"""The one INSERT every ingest writes: a new Delivery row, with a statement built once.

``Model.save()`` would compile the INSERT anew for every row, and Django's PostgreSQL cursor
quotes each value into the statement's text (client-side binding), the whole conversation
included. Here the statement is built once from the model's fields; on PostgreSQL the values
travel beside it on a psycopg server-binding cursor, which psycopg turns into a prepared
statement after a few uses on a connection (its ``prepare_threshold``). Only this statement binds
server-side: Django's ``server_side_binding`` option would do so for every query, and a bound
statement holds at most 65,535 values, which Django's bulk deletes go past.

Each value is prepared by its own field (``pre_save``, then ``get_db_prep_save``), as ``save()``
prepares it, except values that this preparation hands back unchanged (see ``_passes_as_is``):
running a field's preparation for each of the row's columns costs an ingest more CPU than the
rest of its INSERT (bench/delivery_insert.py measures all three ways side by side;
docs/benchmarks.md has the figures). tests/test_outbox_delivery.py checks that a row written
here equals the row ``save()`` writes, so a Django change under these assumptions fails a test.
"""

import functools
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

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
    values = []
    for field, stamped, as_is in _columns(db.vendor):
        value = field.pre_save(delivery, True) if stamped else getattr(delivery, field.attname)
        values.append(value if as_is(value) else field.get_db_prep_save(value, db))
    return values


def write_row(db: BaseDatabaseWrapper, values: list[Any]) -> None:
    """Run the INSERT with ``values`` (from ``prepared_values``)."""
    if db.vendor == "postgresql":
        _server_binding_cursor(db).execute(_insert_sql(db.vendor), values)
        return
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(db.vendor), values)


# Django's connections are per thread, and so is the cursor kept for the INSERT.
_per_thread = threading.local()


def _server_binding_cursor(db: BaseDatabaseWrapper):
    """The thread's psycopg server-binding cursor, in Django's wrapper for this call.

    Kept while the thread's psycopg connection stays the same: psycopg remembers, per cursor,
    how it adapts each parameter's type, so a new cursor per INSERT would redo that choice every
    time. The wrapper is Django's own (``make_cursor``, or ``make_debug_cursor`` while queries
    are logged), so the INSERT gets the same error translation, execute wrappers and query log
    as any other statement. Not used as a context manager: leaving the wrapper's ``with``
    would close the kept cursor.
    """
    db.ensure_connection()
    raw_connection = db.connection
    cursor = getattr(_per_thread, "cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not raw_connection:
        cursor = _per_thread.cursor = psycopg.Cursor(raw_connection)
    if db.queries_logged:
        return db.make_debug_cursor(cursor)
    return db.make_cursor(cursor)


# Field types whose preparation returns a value of exactly this Python type unchanged.
_STORED_AS_IS = {
    "CharField": str, "TextField": str, "SlugField": str,
    "AutoField": int, "BigAutoField": int, "IntegerField": int, "BigIntegerField": int,
    "SmallIntegerField": int, "PositiveIntegerField": int, "PositiveSmallIntegerField": int,
    "PositiveBigIntegerField": int,
}  # fmt: skip
# PostgreSQL's backend also takes these natively (SQLite needs them as text).
_STORED_AS_IS_ON_POSTGRESQL = {"UUIDField": uuid.UUID}


def _never(value: Any) -> bool:
    return False


def _is_aware_datetime(value: Any) -> bool:
    return type(value) is datetime and value.tzinfo is not None


def _passes_as_is(field: Field, vendor: str) -> Callable[[Any], bool]:
    """A test for the values this field's preparation would return unchanged on this backend.

    Foreign keys go by their target's type. None always takes the field's own preparation (a
    JSON column stores it as JSON null), and so does any other type.
    """
    internal = (field.target_field if field.is_relation else field).get_internal_type()
    on_postgresql = vendor == "postgresql"
    if on_postgresql and internal == "DateTimeField":
        return _is_aware_datetime
    exact = _STORED_AS_IS.get(internal)
    if exact is None and on_postgresql:
        exact = _STORED_AS_IS_ON_POSTGRESQL.get(internal)
    if exact is None:
        return _never
    return lambda value: type(value) is exact


@functools.cache
def _columns(vendor: str) -> tuple[tuple[Field, bool, Callable[[Any], bool]], ...]:
    """Per column: the field, whether ``pre_save`` sets its value (auto_now, auto_now_add; for
    the others it only reads the attribute), and its pass-as-is test."""
    return tuple(
        (field, _set_by_pre_save(field), _passes_as_is(field, vendor))
        for field in Delivery._meta.concrete_fields
    )


def _set_by_pre_save(field: Field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = Delivery._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {quote(Delivery._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
