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
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request, Response

from skysift.accounts import User
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.query import MAX_CONDITIONS, MAX_SELECTED, MAX_TABLES, build_sql
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput, Forbidden, NotFound
from skysift.web.throttles import throttle
from skysift.errors import FilterError
from skysift.filters.manage import get_filter
from skysift.filters.manage import list_filters
from skysift.filters.manage import add_filter
from skysift.filters.manage import edit_filter
from skysift.filters.manage import delete_filter

__all__ = ["filter_json", "router"]

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


def _changes(p: Params, creating: bool) -> dict[str, Any]:
    known = {name for name, *_ in SPECS}
    unknown = sorted(set(p.values) - known)
    if unknown:
        raise BadInput(f"unknown field(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    if "name" in p or creating:
        out["name"] = p.text("name", max_len=MAX_NAME)
    parts = [n for n in ("selected", "tables", "conditions") if n in p]
    if "sql" in p and parts:
        raise BadInput("give either sql or selected/tables/conditions, not both")
    if "sql" in p:
        out["sql"] = p.text("sql", max_len=MAX_SQL)
    elif parts:
        out["sql"] = build_sql(p.text("selected", max_len=MAX_SELECTED),
                               p.text("tables", max_len=MAX_TABLES),
                               p.text("conditions", max_len=MAX_CONDITIONS, required=False,
                                      allow_blank=True))
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


def _visible(engine, user: User, filter_id: int) -> Any:
    """The filter, if ``user`` may read it (theirs, or public); 404 otherwise."""

    with engine.connect() as conn:
        try:
            flt = get_filter(conn, f"#{filter_id}")
        except FilterError:
            flt = None
    if flt is None or (flt.user_id != user.id and not flt.public):
        raise NotFound(f"no filter {filter_id} of yours or public")
    return flt


def _owned(engine, user: User, filter_id: int) -> Any:
    flt = _visible(engine, user, filter_id)
    if flt.user_id != user.id:
        raise Forbidden("only its owner can change or delete a filter")
    return flt


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
    flt = add_filter(engine, settings, user, **fields)
    return ApiJSONResponse(filter_json(flt), status_code=201)


@router.get("/filters/{filter_id}/", summary="One filter (yours or public)")
def read(filter_id: FilterId, user: ApiUser, engine: Engine) -> Response:
    """The filter."""
    return ApiJSONResponse(filter_json(_visible(engine, user, filter_id)))


def _update(request: Request, filter_id: int, user: User, p: Params, settings,
            engine) -> Response:
    flt = _owned(engine, user, filter_id)
    changes = _changes(p, creating=False)
    if not changes:
        raise BadInput("nothing to change")
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves.")
    return ApiJSONResponse(filter_json(edit_filter(engine, settings, flt, **changes)))


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

    delete_filter(engine, settings, _owned(engine, user, filter_id))
    return ApiJSONResponse({"deleted": filter_id})
