"""``/api/query/``: run ``SELECT <selected> FROM <tables> WHERE <conditions>`` over the store.

The statement goes through the same validation as filters (:func:`validate_filter` against
:func:`skysift.filters.catalogue.catalogue`), then runs read-only with a deadline
(``api_query_timeout_s``) and a row cap (``api_query_row_cap``; ``api_power_query_row_cap`` for
power users). ``limit`` (default 1000, at most 1,000,000 as Lasair) is cut to the cap; ``offset``
skips rows. Without an ORDER BY in ``conditions`` the rows come by ``diaObjectId`` so pages are
stable. The answer is Lasair's: a JSON list of rows.
"""

from __future__ import annotations

import dataclasses
import re

from fastapi import Response

from skysift.accounts import User
from skysift.config import Settings
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput
from skysift.web.sqlparts import top_level_tail
from skysift.errors import ConfigError
from skysift.filters.sandbox import run_over_store, validate_for_user
from skysift.filters.validate import HIDDEN_KEY
from skysift.filters.resolve import key_column

__all__ = ["build_sql", "router", "run_api_query"]

router = api_router()

MAX_SELECTED, MAX_TABLES, MAX_CONDITIONS = 4096, 1024, 4096
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 1000, 1_000_000, 1_000_000_000
#: Strings Lasair refuses anywhere in a query (comments that could span fields, statement ends).
FORBIDDEN = ("#", "/*", "*/", ";", "\\")
_ORDER = re.compile(r"^\s*order\s+by\b", re.IGNORECASE)

SPECS = (
    ("selected", "string", "the columns, as after SELECT (at most 4096 characters)", True),
    ("tables", "string", "the tables, as after FROM: `objects` (at most 1024)", True),
    ("conditions", "string", ("as after WHERE; may be blank or start with ORDER BY (at most "
     "4096)"), False),
    ("limit", "integer", "most rows (default 1000; cut to your row cap)", False),
    ("offset", "integer", "rows to skip (default 0)", False),
)


_TOPIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def lasair_tables(tables: str) -> tuple[str, list[str]]:
    """Lasair's picker spellings in ``tables`` made plain FROM items, and the conditions they
    imply:

    - ``annotator:a&b`` becomes ``a, b`` (each annotator is a table of its own);
    - ``watchlist:N`` becomes ``watchlist_hits`` with ``watchlist_hits.wl_id = N``;
    - ``area:N`` becomes ``area_hits`` with ``area_hits.ar_id = N``, and ``area:N&M`` the
      objects in every one of the areas: ``area_hits AS ar0, area_hits AS ar1`` with
      ``ar0.ar_id = N AND ar1.ar_id = M`` (Lasair's aliases).

    >>> lasair_tables("objects, watchlist:3, area:1&2")  # doctest: +NORMALIZE_WHITESPACE
    ('objects, watchlist_hits, area_hits AS ar0, area_hits AS ar1',
     ['watchlist_hits.wl_id = 3', 'ar0.ar_id = 1', 'ar1.ar_id = 2'])
    """
    items: list[str] = []
    conditions: list[str] = []
    for item in tables.split(","):
        word = item.strip()
        kind, sep, rest = word.partition(":")
        if not sep:
            items.append(word)
            continue
        kind = kind.strip().lower()
        parts = [x.strip() for x in rest.split("&")]
        if kind == "annotator":
            for topic in parts:
                if not _TOPIC.match(topic):
                    raise BadInput(f"tables: '{topic}' in '{word}' is not an annotator name",
                                   field="tables")
                items.append(topic)
        elif kind in ("watchlist", "area"):
            if not all(x.isdigit() and len(x) < 10 for x in parts) or not parts:
                raise BadInput(f"tables: '{word}' needs {kind} ids (numbers, & between them)",
                               field="tables")
            if kind == "watchlist" and len(parts) > 1:
                raise BadInput(f"tables: '{word}': one watchlist per query", field="tables")
            table, column = (("watchlist_hits", "wl_id") if kind == "watchlist"
                             else ("area_hits", "ar_id"))
            if len(parts) == 1:
                items.append(table)
                conditions.append(f"{table}.{column} = {int(parts[0])}")
            else:
                for i, ident in enumerate(parts):
                    items.append(f"{table} AS ar{i}")
                    conditions.append(f"ar{i}.{column} = {int(ident)}")
        else:
            raise BadInput(f"tables: skysift has no {kind!r} tables ('{word}'); objects, "
                           "annotator:..., watchlist:N, area:N, gw_hits, gw_events and the "
                           "other tables of docs/filters.md can be used", field="tables")
    return ", ".join(i for i in items if i), conditions


def build_sql(selected: str, tables: str, conditions: str) -> str:
    """The filter-language statement of an API query (each part on its own line, so a ``--``
    comment ends with its field)."""
    for name, text in (("selected", selected), ("tables", tables), ("conditions", conditions)):
        for bad in FORBIDDEN:
            if bad in text:
                raise BadInput(f"{name} may not contain '{bad}'", field=name)
    from_items, implied = lasair_tables(tables)
    sql = f"SELECT {selected}\nFROM {from_items}"
    implied_text = " AND ".join(implied)
    if _ORDER.match(conditions):
        where = f"\nWHERE {implied_text}" if implied else ""
        return f"{sql}{where}\n{conditions}"
    if conditions.strip():
        if implied:
            body, tail = top_level_tail(conditions)
            return f"{sql}\nWHERE {implied_text} AND (\n{body}\n){tail}"
        return f"{sql}\nWHERE {conditions}"
    return f"{sql}\nWHERE {implied_text}" if implied else sql


def run_api_query(conn, settings: Settings, user: User, sql: str, *, limit: int,
                  offset: int) -> list[dict]:
    """Validate and run ``sql`` for ``user``; the rows, at most the user's row cap."""

    if settings.api_query_timeout_s <= 0:
        raise ConfigError("setting 'api_query_timeout_s' must be positive")
    cap = settings.api_power_query_row_cap if user.is_power else settings.api_query_row_cap
    limit = min(limit, cap)
    vf = validate_for_user(sql, "query", user.id, conn=conn)
    from sqlglot import exp


    tree = vf.ast.copy()
    if not tree.args.get("order"):
        tree = tree.order_by(exp.Ordered(this=key_column(vf.objects_ref), desc=False), copy=False)
    if offset:
        tree = tree.offset(offset, copy=False)
    vf = dataclasses.replace(vf, ast=tree, _compiled={})
    result = run_over_store(conn, vf, timeout_s=settings.api_query_timeout_s, row_cap=limit,
                            limit=limit - 1, name="query")
    return [{k: v for k, v in row.items() if k != HIDDEN_KEY} for row in result.rows]


def _query(user: User, p: Params, settings: Settings, engine) -> Response:
    selected = p.text("selected", max_len=MAX_SELECTED)
    tables = p.text("tables", max_len=MAX_TABLES)
    conditions = p.text("conditions", max_len=MAX_CONDITIONS, required=False, allow_blank=True)
    limit = p.integer("limit", lo=0, hi=MAX_LIMIT, required=False, default=DEFAULT_LIMIT)
    offset = p.integer("offset", lo=0, hi=MAX_OFFSET, required=False, default=0)
    sql = build_sql(selected, tables, conditions)
    with engine.connect() as conn:
        rows = run_api_query(conn, settings, user, sql, limit=limit, offset=offset)
    return ApiJSONResponse(rows)


@router.get("/query/", summary="Run a query over the store (Lasair's /api/query/)",
            openapi_extra=openapi_params(*SPECS))
def query_get(user: ApiUser, p: ApiParams, settings: SettingsDep, engine: Engine) -> Response:
    """Run ``SELECT selected FROM tables WHERE conditions``; a list of rows."""
    return _query(user, p, settings, engine)


@router.post("/query/", summary="Run a query over the store (Lasair's /api/query/)",
             openapi_extra=openapi_params(*SPECS, body=True))
def query_post(user: ApiUser, p: ApiParams, settings: SettingsDep, engine: Engine) -> Response:
    """As GET, with the arguments in a form or a JSON object."""
    return _query(user, p, settings, engine)
