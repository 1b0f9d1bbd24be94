"""``/api/filters/``: create, list, read, update and delete your filters, as JSON.

The same rules and side effects as the CLI and the web pages, because the work is done by
:mod:`skysift.filters.manage`: the SQL is validated; creating or editing a Kafka filter empties
its topic and seeds it from the store; renaming moves the topic; deleting deletes it.

- ``GET /api/filters/``: ``{"filters": [...]}``, yours and the public ones of other users
  (``?mine=true`` for yours only);
- ``POST /api/filters/``: create; ``name`` and ``sql`` (or Lasair's ``selected``, ``tables``,
  ``conditions``), optional ``description``, ``trigger`` (none | alert | annotation | both;
  default alert, as the command line), ``output``
  (plain | lite | full), ``public``; answers 201 with the filter;
- ``GET /api/filters/{id}/``: one filter, yours or public (others' private ones are 404);
- ``PUT`` or ``PATCH /api/filters/{id}/``: change any of those fields (owner only: 403 else);
- ``DELETE /api/filters/{id}/``: ``{"deleted": id}`` (owner only).

A filter saved active (trigger alert or both) is backtested over the newest archived night
(:func:`skysift.backtest.flood_check`); when it would flood its topic the answer carries
``warning``, the reason. Backtest and replay: :mod:`skysift.web.api.backtest`.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Path, Request, Response

from skysift.accounts import User
from skysift.config import Settings
from skysift.errors import FilterError
from skysift.filters.manage import (
    Filter,
    add_filter,
    delete_filter,
    edit_filter,
    get_filter,
    list_filters,
)
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.query import MAX_CONDITIONS, MAX_SELECTED, MAX_TABLES, build_sql
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.backtests import saved_warning
from skysift.web.httperrors import BadInput, Forbidden, NotFound
from skysift.web.throttles import throttle

__all__ = ["FilterId", "filter_json", "owned_filter", "router", "sql_of", "visible_filter"]

router = api_router()
MAX_NAME, MAX_DESCRIPTION, MAX_SQL = 256, 4096, 20_000
FilterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the filter's id")]
SPECS = (
    ("name", "string", "the filter's name (its topic is lasair_<your id><name>)", False),
    ("sql", "string", "the whole SELECT (or give selected, tables, conditions)", False),
    ("selected", "string", "Lasair's SELECT part", False),
    ("tables", "string", "Lasair's FROM part", False),
    ("conditions", "string", "Lasair's WHERE part", False),
    ("description", "string", "free text", False),
    ("trigger", "string", "none (default), alert, annotation or both", False),
    ("output", "string", "plain (default), lite, full, or email (a daily digest)", False),
    ("public", "boolean", "readable by everyone (default false)", False),
)


def filter_json(flt: Any) -> dict[str, Any]:
    """The JSON of a :class:`~skysift.filters.manage.Filter`."""
    return {
        "id": flt.id, "name": flt.name, "description": flt.description, "sql": flt.sql,
        "trigger": flt.trigger, "output": flt.output, "public": flt.public, "topic": flt.topic,
        "active": flt.active, "owner_id": flt.user_id, "owner": flt.user_name,
        "byte_quota": flt.byte_quota,
        "created": flt.created.isoformat() if flt.created else None,
        "modified": flt.modified.isoformat() if flt.modified else None,
        "last_error": flt.last_error,
        "last_error_at": flt.last_error_at.isoformat() if flt.last_error_at else None,
        "expires": flt.expires.isoformat() if getattr(flt, "expires", None) else None,
    }


def sql_of(p: Params) -> str | None:
    """The SQL given: ``sql``, or Lasair's ``selected``, ``tables`` and ``conditions``, or None."""
    parts = [n for n in ("selected", "tables", "conditions") if n in p]
    if "sql" in p and parts:
        raise BadInput("give either sql or selected/tables/conditions, not both")
    if "sql" in p:
        return p.text("sql", max_len=MAX_SQL)
    if parts:
        return build_sql(p.text("selected", max_len=MAX_SELECTED),
                         p.text("tables", max_len=MAX_TABLES),
                         p.text("conditions", max_len=MAX_CONDITIONS, required=False,
                                allow_blank=True))
    return None


def _changes(p: Params, creating: bool) -> dict[str, Any]:
    known = {name for name, *_ in SPECS}
    unknown = sorted(set(p.values) - known)
    if unknown:
        raise BadInput(f"unknown field(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    if "name" in p or creating:
        out["name"] = p.text("name", max_len=MAX_NAME)
    sql = sql_of(p)
    if sql is not None:
        out["sql"] = sql
    elif creating:
        raise BadInput("sql is required (or selected, tables and conditions)", field="sql")
    if "description" in p:
        out["description"] = p.text("description", max_len=MAX_DESCRIPTION, allow_blank=True)
    for name in ("trigger", "output"):
        if name in p:
            out[name] = p.text(name, max_len=32)
    if "public" in p:
        out["public"] = p.boolean("public", default=False)
    return out


def visible_filter(engine: sa.Engine, user: User, filter_id: int) -> Filter:
    """The filter, if ``user`` may read it (theirs, or public); 404 otherwise."""
    with engine.connect() as conn:
        try:
            flt = get_filter(conn, f"#{filter_id}")
        except FilterError:
            flt = None
    if flt is None or (flt.user_id != user.id and not flt.public):
        raise NotFound(f"no filter {filter_id} of yours or public")
    return flt


def owned_filter(engine: sa.Engine, user: User, filter_id: int,
                 action: str = "change or delete") -> Filter:
    """The filter, if ``user`` owns it; 404 if they may not read it, 403 if it is another
    user's public filter (``action`` says what only the owner may do)."""
    flt = visible_filter(engine, user, filter_id)
    if flt.user_id != user.id:
        raise Forbidden(f"only its owner can {action} a filter")
    return flt


def _saved(settings: Settings, engine: sa.Engine, flt: Filter, status_code: int = 200,
           ) -> Response:
    """The JSON of a filter just saved, with ``warning`` when it is active and its backtest over
    the newest archived night says it may flood its topic."""
    body = filter_json(flt)
    warning = saved_warning(settings, engine, flt)
    if warning:
        body["warning"] = warning
    return ApiJSONResponse(body, status_code=status_code)


@router.get("/filters/", summary="Your filters and the public ones")
def list_all(user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    """``{"filters": [...]}``; ``?mine=true`` for yours only."""

    mine = p.boolean("mine", default=False)
    with engine.connect() as conn:
        found = [f for f in list_filters(conn)
                 if f.user_id == user.id or (f.public and not mine)]
    found.sort(key=lambda f: (f.user_id != user.id, f.name.lower(), f.id))
    return ApiJSONResponse({"filters": [filter_json(f) for f in found]})


@router.post("/filters/", summary="Create a filter (its topic is emptied and seeded)",
             status_code=201, openapi_extra=openapi_params(*SPECS, body=True))
def create(request: Request, user: ApiUser, p: ApiParams, settings: SettingsDep,
           engine: Engine) -> Response:
    """The new filter, 201."""

    fields = _changes(p, creating=True)
    fields.setdefault("trigger", "alert")  # active on new alerts unless told otherwise, as the CLI
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves.")
    return _saved(settings, engine, add_filter(engine, settings, user, **fields), 201)


@router.get("/filters/{filter_id}/", summary="One filter (yours or public)")
def read(filter_id: FilterId, user: ApiUser, engine: Engine) -> Response:
    """The filter."""
    return ApiJSONResponse(filter_json(visible_filter(engine, user, filter_id)))


def _update(request: Request, filter_id: int, user: User, p: Params, settings: Settings,
            engine: sa.Engine) -> Response:
    flt = owned_filter(engine, user, filter_id)
    changes = _changes(p, creating=False)
    if not changes:
        raise BadInput("nothing to change")
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves.")
    return _saved(settings, engine, edit_filter(engine, settings, flt, **changes))


@router.put("/filters/{filter_id}/", summary="Change a filter (owner only; topic re-seeded)",
            openapi_extra=openapi_params(*SPECS, body=True))
def update_put(request: Request, filter_id: FilterId, user: ApiUser, p: ApiParams,
               settings: SettingsDep, engine: Engine) -> Response:
    """The changed filter. Fields not given are left as they are."""
    return _update(request, filter_id, user, p, settings, engine)


@router.patch("/filters/{filter_id}/", summary="Change a filter (owner only; topic re-seeded)",
              openapi_extra=openapi_params(*SPECS, body=True))
def update_patch(request: Request, filter_id: FilterId, user: ApiUser, p: ApiParams,
                 settings: SettingsDep, engine: Engine) -> Response:
    """The changed filter. Fields not given are left as they are."""
    return _update(request, filter_id, user, p, settings, engine)


@router.delete("/filters/{filter_id}/", summary="Delete a filter and its topic (owner only)")
def delete(filter_id: FilterId, user: ApiUser, settings: SettingsDep, engine: Engine) -> Response:
    """``{"deleted": id}``."""

    delete_filter(engine, settings, owned_filter(engine, user, filter_id))
    return ApiJSONResponse({"deleted": filter_id})
