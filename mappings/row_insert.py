"""One model row's INSERT, with the statement built once per model from the model's own fields.

``Model.save()`` compiles its INSERT anew for every row; the hot paths that write a row per
request (the outbox's Delivery, a cache hit's Lookup) build the statement once here and prepare
each value as ``save()`` prepares it (the field's ``pre_save``, then ``get_db_prep_save``). How
the statement is sent (which cursor, inside what) is the caller's.
"""

import functools
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper


@functools.cache
def written_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT writes: every concrete field but an auto-incremented key, which
    the database numbers."""
    return tuple(
        field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField)
    )


@functools.cache
def insert_sql(model: type[models.Model], vendor: str) -> str:
    """The INSERT statement for ``model``'s rows, one placeholder per written column."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = written_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608


def prepared_values(db: BaseDatabaseWrapper, row: models.Model) -> list[Any]:
    """The INSERT's parameters for ``row``, in column order, as the database backend takes them."""
    fields = written_fields(type(row))
    return [field.get_db_prep_save(field.pre_save(row, True), db) for field in fields]
