"""The SQL sandbox: a user's statement validated, compiled and run over the store, one way.

Every path that runs user SQL over the whole store goes through here: ``skysift filter run``,
the web's Run button, seeding a topic when a filter is saved, the annotation- and sky-map-
triggered filters, and the API's ``/api/query/``. The steps are always the same:

1. :func:`validate_for_user`: parse and allow-list against the catalogue that user may read
   (:mod:`skysift.filters.catalogue`), and compile for every engine, so a filter that cannot run
   everywhere is refused when it is saved or run;
2. :func:`run_over_store`: compile for this connection's database, restricted to some objects if
   asked, and run read-only with a deadline and a row cap
   (:func:`skysift.filters.engine.run_query`).

The batch pipeline runs the same validated filters over each batch in its own in-memory
database instead (:mod:`skysift.filters.batch`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlglot import exp

from skysift.config import Settings
from skysift.filters.catalogue import catalogue, user_catalogue
from skysift.filters.compile import Dialect, check_compiles, compile_filter
from skysift.filters.engine import QueryResult, run_query
from skysift.filters.validate import ValidatedFilter, validate_filter

__all__ = ["dialect_of", "run_filter", "run_over_store", "validate_for_user"]


def dialect_of(conn: sa.Connection) -> Dialect:
    return "postgresql" if conn.dialect.name == "postgresql" else "sqlite"


def validate_for_user(sql: str, name: str, user_id: int | None = None, *, engine: Any = None,
              conn: Any = None):
    """Validate against the catalogue of ``user_id``: the documented tables plus the annotators
    that user may read (public ones and their own; see skysift.filters.catalogue), and
    compile for every engine (:func:`skysift.filters.compile.check_compiles`): a filter that
    cannot run everywhere is refused when it is saved or run, never met by the pipeline."""
    cat = catalogue()
    if user_id is not None and (conn is not None or engine is not None):
        if conn is not None:
            cat = user_catalogue(conn, user_id)
        else:
            with engine.connect() as c:
                cat = user_catalogue(c, user_id)
    vf = validate_filter(sql, cat, name=name)
    check_compiles(vf)
    return vf


def run_over_store(conn: sa.Connection, vf: ValidatedFilter, *, timeout_s: float, row_cap: int,
                   limit: int | None = None, restrict_ids: list[int] | None = None,
                   name: str | None = None) -> QueryResult:
    """Run a validated filter over the store on ``conn``: at most ``row_cap`` rows (one more is
    asked for, so truncation shows), only the objects ``restrict_ids`` when given, within
    ``timeout_s``."""
    dialect = dialect_of(conn)
    text = compile_filter(vf, dialect, limit=(row_cap if limit is None else limit) + 1,
                          restrict_ids=restrict_ids)
    return run_query(conn, text, dialect=dialect, timeout_s=timeout_s, row_cap=row_cap,
                     filter_name=name)


def run_filter(conn: sa.Connection, settings: Settings, sql: str, *, name: str | None = None,
               limit: int | None = None, recent_first: bool = False,
               restrict_ids: list[int] | None = None, user_id: int | None = None):
    """Run filter SQL over the whole store, read-only, with a deadline and a row limit.

    Returns a QueryResult (rows, truncated, elapsed_s).
    """
    vf = validate_for_user(sql, name or "query", user_id, conn=conn)
    if recent_first and not vf.ast.args.get("order"):
        vf = _order_recent_first(vf)
    limit = limit or settings.run_row_limit
    return run_over_store(conn, vf, timeout_s=settings.run_timeout_s, row_cap=limit,
                          restrict_ids=restrict_ids, name=name)


def _order_recent_first(vf):
    """``vf`` ordered by the objects' latest detection, newest first (for seeding), whatever
    the objects table is called in it (``FROM objects AS o``)."""
    column = exp.column("lastDiaSourceMjdTai", table=vf.objects_ref, quoted=True)
    ast = vf.ast.copy().order_by(exp.Ordered(this=column, desc=True), copy=False)
    return dataclasses.replace(vf, ast=ast, _compiled={})
