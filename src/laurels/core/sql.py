"""Small pieces of portable SQL (SQLite and PostgreSQL) for the few raw queries we write."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, signals
from django.db.models.base import ModelState


@dataclass(frozen=True)
class Stamp:
    """Scalar SQL expressions (each one value, e.g. a subquery) with their named
    parameters (`%(name)s`), to be read in the same query as the access token. They may
    name the token's user as `u.id`."""

    expressions: tuple[str, ...]
    params: dict = field(default_factory=dict)


NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=64)
def _in_driver_style(sql: str, vendor: str) -> str:
    """`%(name)s` parameters as the driver wants them (sqlite3: `:name`)."""
    return NAMED_PARAMETER.sub(r":\1", sql) if vendor == "sqlite" else sql


def fetch_one_row(sql: str, params: dict) -> tuple | None:
    """The first row of `sql` (named `%(name)s` parameters), run on the database
    driver's own cursor.

    For the one query of a hot path (`connect.selectors.bearer_token_state`): Django's
    cursor wrapper costs as much as a small indexed query. Errors still come out as
    Django's `DatabaseError` classes; the query is not recorded in `connection.queries`.
    """
    database = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs per attribute
    if database.connection is None:
        database.ensure_connection()
    with database.wrap_database_errors:
        cursor = database.connection.cursor()
        try:
            cursor.execute(_in_driver_style(sql, database.vendor), params)
            return cursor.fetchone()
        finally:
            cursor.close()


def fetch_rows(sql: str, params: dict) -> list[tuple]:
    """Every row of `sql` (named `%(name)s` parameters) through Django's cursor, so the
    query is recorded in `connection.queries` as the ORM's are (tests count them; a
    little dearer than `fetch_one_row`). For raw reads that replace ORM queries."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@functools.lru_cache(maxsize=16)
def _model_layout(model, alias: str, vendor: str) -> tuple[str, list[str], list[list]]:
    """The select list of `model`'s columns as `alias`, their attribute names, and the
    converters Django applies to each column's value (by `vendor`, the database's)."""
    database = connections[DEFAULT_DB_ALIAS]
    quote = database.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{alias}.{quote(f.column)}" for f in fields)
    converters = []
    for item in fields:
        column = item.get_col(alias)
        converters.append(
            [
                (converter, column)
                for converter in database.ops.get_db_converters(column)
                + item.get_db_converters(database)
            ]
        )
    return columns, [f.attname for f in fields], converters


def model_columns(*models: tuple[type, str]) -> str:
    """The columns of each (model, alias) joined in a raw query, to select in that order
    and read back with `models_of_row`."""
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    return ", ".join(_model_layout(model, alias, vendor)[0] for model, alias in models)


def models_of_row(row: tuple, *models: tuple[type, str]) -> list:
    """One instance of each model from a row selected with `model_columns`, as the ORM
    makes them (the same converters; `Model.from_db`); None for a model whose primary
    key is NULL (a LEFT JOIN that found nothing). Skips the ORM's query compiler, which
    costs more than a small indexed query on a hot path."""
    database = connections[DEFAULT_DB_ALIAS]
    made, start = [], 0
    for model, alias in models:
        _, names, converters = _model_layout(model, alias, database.vendor)
        values = list(row[start : start + len(names)])
        start += len(names)
        if values[names.index(model._meta.pk.attname)] is None:
            made.append(None)
            continue
        for index, steps in enumerate(converters):
            for converter, column in steps:
                values[index] = converter(values[index], column, database)
        made.append(loaded_instance(model, dict(zip(names, values, strict=True))))
    return made


def loaded_instance(model: type[Model], values: dict[str, Any]) -> Model:
    """An instance of `model` holding `values` (every concrete field, by attribute name,
    already converted) as read from the database, made the way Django restores a pickled
    instance (`Model.__reduce__`, `Model.__setstate__`). `Model.from_db` goes through
    `__init__`, whose field-by-field descriptors cost a third of a 10,000-award batch and
    a tenth of a one-object API read. A model with `pre_init`/`post_init` receivers
    (an ImageField with dimension fields) is made by `from_db`, which runs them."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        names = [item.attname for item in model._meta.concrete_fields]
        return model.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])
    instance = model.__new__(model)
    instance.__dict__.update(values)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


def ordering_sql(model: type, alias: str) -> str:
    """`ORDER BY` of `model`'s `Meta.ordering` (plain field names, `-` for descending) on
    the columns of `alias`: the order the ORM reads its rows in, for a raw query."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    terms = []
    for name in model._meta.ordering:
        column = model._meta.get_field(name.removeprefix("-")).column
        terms.append(f"{alias}.{quote(column)} {'DESC' if name.startswith('-') else 'ASC'}")
    return "ORDER BY " + ", ".join(terms)


def set_related(instance, **related) -> None:
    """Each forward relation named in `related` as loaded with `instance` (the object,
    or None for a null foreign key), as `select_related` leaves them."""
    fields = type(instance)._meta
    for name, value in related.items():
        fields.get_field(name).set_cached_value(instance, value)


def set_prefetched(instance, name: str, related: list, queryset=None) -> None:
    """The reverse foreign key `name` of `instance` as `prefetch_related` leaves it (with
    `queryset`, that of a `Prefetch`): `instance.<name>.all()` answers `related` without
    a query, and each of them knows `instance`. For rows read in a raw query."""
    manager = getattr(instance, name)
    rows = manager._apply_rel_filters(queryset) if queryset is not None else manager.get_queryset()
    rows._result_cache = related
    rows._prefetch_done = True
    field = manager.field
    for item in related:
        field.set_cached_value(item, instance)
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[field.remote_field.cache_name] = rows
