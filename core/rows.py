"""The pipeline's hottest writes, with their SQL built once per shape instead of per call.

A queryset is compiled anew on every call. On these machines that costs about 0.25 ms of
CPU for a one-row ``bulk_create`` and 0.7 ms for an ``update()`` with ``F()`` terms,
against 0.13 ms for sending the same SQL directly; a generation step sends some ten such
writes (issue 18: orchestration overhead). ``rows_insert``, ``rows_update`` and
``row_save`` build the statement Django would, from the model's fields, once per model,
shape and database, and prepare each value as Django does (``Field.pre_save``,
``Field.get_db_prep_save``).

They do what ``bulk_create`` and ``update()`` do and nothing more: no signals (this
project uses none), no ``save()`` overrides (a row inserted here is a new row, which is
all ``WriteOnceMixin`` allows anyway), no expressions as values.
"""

from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any, TypeVar

from django.db import NotSupportedError, connections, models, router

M = TypeVar("M", bound=models.Model)


def rows_insert(objs: Sequence[M], *, skip_taken: bool = False) -> list[M]:
    """Insert ``objs`` (new rows of one model) in one statement; their primary keys are
    set and they count as saved, as after ``bulk_create``.

    ``skip_taken``: one row (with an auto-increment key, which tells whether it went
    in), left out if it would break a unique constraint (ON CONFLICT DO NOTHING): then
    [] is returned and nothing written."""
    if not objs:
        return []
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields, returning = _insert_fields(model)
    if skip_taken and (len(objs) > 1 or not returning):
        raise ValueError("skip_taken takes one row with an auto-increment key (to tell)")
    if returning and not connection.features.can_return_columns_from_insert:
        raise NotSupportedError("rows_insert needs INSERT … RETURNING (SQLite 3.35+).")
    sql = _insert_sql(model, len(objs), skip_taken, alias)
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [row[0] for row in cursor.fetchall()] if returning else None
    if keys == []:  # skipped: its unique key was taken
        return []
    for index, obj in enumerate(objs):
        if keys is not None:
            obj.pk = keys[index]
        obj._state.adding, obj._state.db = False, alias
    return list(objs)


def rows_update(
    model: type[models.Model],
    *,
    where: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    add: Mapping[str, Any] | None = None,
) -> int:
    """``UPDATE`` the rows whose fields equal ``where`` (``pk`` names the primary key;
    none may be None): ``values`` set, ``add`` added to what is stored (``F(name) +
    value``). The number of rows changed."""
    values, add = values or {}, add or {}
    if not where or any(value is None for value in where.values()):
        raise ValueError("rows_update needs a where, and compares with =, never with NULL")
    alias = router.db_for_write(model)
    connection = connections[alias]
    sql = _update_sql(model, tuple(values), tuple(add), tuple(where), alias)
    named = [*values.items(), *add.items(), *where.items()]
    params = [_field(model, name).get_db_prep_save(value, connection) for name, value in named]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def row_save(obj: models.Model, fields: Sequence[str] | None = None) -> None:
    """Save ``fields`` (names; all but the key when None) of a stored row, as
    ``obj.save(update_fields=fields)`` would; the row must exist."""
    opts = obj._meta
    if fields is not None and not fields:
        return  # as save(update_fields=[]): nothing to do
    chosen = (
        [opts.get_field(name) for name in fields]
        if fields is not None
        else [field for field in opts.concrete_fields if not field.primary_key]
    )
    values = {field.name: field.pre_save(obj, False) for field in chosen}  # type: ignore[union-attr]
    if not rows_update(type(obj), where={"pk": obj.pk}, values=values):
        raise obj.DoesNotExist(f"{opts.label} {obj.pk} is gone")  # type: ignore[attr-defined]


@cache  # one entry per model: read on every insert, never changes
def _insert_fields(model: type[models.Model]) -> tuple[tuple[models.Field, ...], bool]:
    """The columns an insert names (all but an auto-increment key, which it returns)."""
    pk = model._meta.pk
    auto = isinstance(pk, models.AutoField)
    fields = tuple(f for f in model._meta.concrete_fields if not (auto and f.primary_key))
    return fields, auto


@lru_cache(maxsize=256)  # a shape per model and row count: bounded
def _insert_sql(model: type[models.Model], count: int, skip_taken: bool, alias: str) -> str:
    quote = connections[alias].ops.quote_name
    fields, returning = _insert_fields(model)
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    rows = ", ".join([row] * count)
    # Identifiers from the model's metadata, quoted; every value is a parameter.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {rows}"  # noqa: S608
    if skip_taken:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql


@lru_cache(maxsize=256)
def _update_sql(
    model: type[models.Model],
    values: tuple[str, ...],
    add: tuple[str, ...],
    where: tuple[str, ...],
    alias: str,
) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(_field(model, name).column)

    sets = [f"{column(n)} = %s" for n in values] + [f"{column(n)} = {column(n)} + %s" for n in add]
    tests = " AND ".join(f"{column(n)} = %s" for n in where)
    table = quote(model._meta.db_table)
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {tests}"  # noqa: S608 (as above)


@cache  # one entry per model and field name: read for every value of an update
def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field
