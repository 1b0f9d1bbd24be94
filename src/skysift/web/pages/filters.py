"""Filter pages: the list (mine and public), the editor (Run / Backtest / Save), a filter's page
(Run, Replay), copy, delete.

Saving goes through :mod:`skysift.filters.manage`, so a page has exactly the CLI's side effects:
the SQL is validated, and a Kafka filter's topic is emptied and seeded on every save. A filter
saved active is then backtested over the newest archived night
(:func:`skysift.backtest.flood_check`), and the filter's page warns when it may flood its topic.
The editor's Backtest runs the SQL as it is in the editor, not saved, over the newest archived
nights; a filter's page replays archived nights into its topic (:mod:`skysift.web.backtests`) as
a background job (:mod:`skysift.web.jobs`): the Replay button leads to the filter's page with
``?replay=<job>``, which shows a progress bar (``static/replay.js`` polls
``/filters/<id>/replays/<job>``; without JavaScript a reload shows how far it is), then the report.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from skysift.accounts import User
from starlette.concurrency import run_in_threadpool

from skysift.backtest import backtest, flood_warning
from skysift.errors import (
    ArchiveError,
    BrokerError,
    FilterConflict,
    FilterError,
    FilterRejected,
    Forbidden,
)
from skysift.filters.catalogue import user_catalogue
from skysift.filters.manage import (
    OUTPUTS,
    TRIGGERS,
    Filter,
    add_filter,
    delete_filter,
    edit_filter,
    list_filters,
    private_annotators_read,
    run_filter,
)
from skysift.filters.validate import MAX_SQL_CHARS, validate_filter
from skysift.store.columns import COLUMNS
from skysift.web import filterview as fv
from skysift.web.backtests import (
    DEFAULT_NIGHTS,
    MAX_NIGHTS,
    edited_filter,
    night_range,
    replay_topic,
    saved_warning,
    unsaved_filter,
)
from skysift.web.forms import Form, parse_int, read_form
from skysift.web.httperrors import BadInput, NotFound, RateLimited, status_of
from skysift.web.jobs import JOBS
from skysift.web.pages.home import visible_topics
from skysift.web.sessions import current_user, require_user
from skysift.web.sqlparts import compose, locate, split
from skysift.web.templating import flash, render
from skysift.web.throttles import client_address, throttle

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

EXAMPLE = (("objects.diaObjectId, objects.ra, objects.decl, objects.nDiaSources,\n"
            "flux2mag(objects.latest_psfFlux) AS latest_mag"),
           "objects",
           "objects.latest_psfFlux > 3000\nORDER BY objects.lastDiaSourceMjdTai DESC")
MAX_NAME = 100
MAX_DESCRIPTION = 4096


@router.get("/filters")
def filter_list(request: Request) -> Response:
    """My filters and everyone's public ones."""
    user = current_user(request)
    with request.app.state.engine.connect() as conn:
        everything = list_filters(conn)
        stats = {t["topic"]: t for t in visible_topics(conn, user)}
    mine = [f for f in everything if user is not None and f.user_id == user.id]
    public = [f for f in everything if f.public and (user is None or f.user_id != user.id)]
    return render(request, "filters.html", mine=mine, public=public, stats=stats,
                  outputs=fv.OUTPUT_LABELS)


def _editor_values(flt: Filter | None) -> dict[str, Any]:
    if flt is None:
        sel, tab, cond = EXAMPLE
        return {"selected": sel, "tables": tab, "conditions": cond, "sql": compose(*EXAMPLE),
                "mode": "parts", "name": "", "description": "", "trigger": "alert",
                "output": "plain", "public": False, "nights": str(DEFAULT_NIGHTS)}
    parts = split(flt.sql)
    values: dict[str, Any] = {"sql": flt.sql, "mode": "parts" if parts else "sql",
                              "name": flt.name, "description": flt.description,
                              "trigger": flt.trigger, "output": flt.output, "public": flt.public,
                              "nights": str(DEFAULT_NIGHTS)}
    if parts:
        values.update(zip(("selected", "tables", "conditions"), parts, strict=False))
    return values


def _editor(request: Request, flt: Filter | None, values: dict[str, Any], status: int = 200,
            **more: Any) -> Response:
    return render(request, "editor.html", status=status, flt=flt, v=values,
                  triggers={t: fv.TRIGGER_LABELS.get(t, t) for t in TRIGGERS},
                  outputs={o: fv.OUTPUT_LABELS.get(o, o) for o in OUTPUTS},
                  catalogue=_columns(), max_sql=MAX_SQL_CHARS, max_nights=MAX_NIGHTS, **more)


def _columns() -> list[Any]:
    return list(COLUMNS)


def _read_sql(form: Form, values: dict[str, Any]) -> str:
    """The SQL of the submitted editor (three boxes, or one box in SQL mode)."""
    if values["mode"] == "sql":
        return form.text("sql", max_len=MAX_SQL_CHARS, required=True, label="SQL")
    selected = form.text("selected", max_len=4096, required=True, label="SELECT")
    tables = form.text("tables", max_len=1024, label="FROM") or "objects"
    conditions = form.text("conditions", max_len=4096, label="WHERE")
    return compose(selected, tables, conditions)


async def _editor_post(request: Request, user: User, flt: Filter | None) -> Response:
    """Run, backtest or save the submitted editor."""
    form = await read_form(request)
    keys = ("selected", "tables", "conditions", "sql", "name", "description", "trigger", "output",
            "nights")
    values: dict[str, Any] = {k: form.values.get(k, "") for k in keys}
    values["public"] = form.flag("public")
    values["mode"] = "sql" if form.values.get("mode") == "sql" else "parts"
    parts = {k: values[k] for k in ("selected", "tables", "conditions")}
    try:
        action = form.choice("action", ("run", "backtest", "save"), default="run")
        sql = _read_sql(form, values)
        settings = request.app.state.settings
        if action == "backtest":
            throttle(request, f"run:{user.id}", settings.filter_run_rate_limit,
                     settings.api_rate_window_s, "Too many runs.")
            return await _backtest(request, user, flt, form, values, sql)
        if action == "run":
            throttle(request, f"run:{user.id}", settings.filter_run_rate_limit,
                     settings.api_rate_window_s, "Too many runs.")
            # up to run_timeout_s of work: in a worker thread, never on the event loop (one
            # user's slow Run must not hold up everyone's pages)
            result = await run_in_threadpool(_run_sql, request.app.state.engine,
                                             request.app.state.settings, sql,
                                             values["name"] or None, user.id)
            columns, rows, ids = fv.result_table(result.rows)
            return _editor(request, flt, values, result=result, columns=columns, rows=rows,
                           ids=ids)
        throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
                 settings.api_rate_window_s, "Too many saves.")
        saved = await run_in_threadpool(_save, request, user, flt, form, sql)  # Kafka, seeding
    except RateLimited as exc:
        return _editor(request, flt, values, status=429, error=exc.message, error_part=None)
    except ArchiveError as exc:  # a backtest, and no archived night to run it over
        return _editor(request, flt, values, status=400, error=exc.message, error_part=None)
    except (BadInput, FilterError) as exc:
        where = getattr(exc, "field", None)
        if where is None and isinstance(exc, FilterConflict):
            where = "name"
        if where is None:
            where = locate(exc.message,
                           parts if values["mode"] == "parts" else {"sql": values["sql"]})
        return _editor(request, flt, values, status=400, error=exc.message, error_part=where)
    except BrokerError as exc:
        log.warning("saving a filter failed: %s", exc)
        return _editor(request, flt, values, status=503, error_part=None,
                       error=f"Kafka did not answer, so nothing was saved: {exc.message}")
    what = "Saved" if flt else "Created"
    flash(request, f"{what} filter {saved.name}. Its topic {saved.topic} was emptied and seeded "
                   "with the most recent matching objects.")
    # a backtest of the newest night: in a worker thread, never on the event loop
    warning = await run_in_threadpool(saved_warning, request.app.state.settings,
                                      request.app.state.engine, saved)
    if warning:
        flash(request, f"Warning: {warning}. Check its SQL with Backtest in the editor.", "warn")
    return RedirectResponse(f"/filters/{saved.id}", status_code=303)


def _run_sql(engine: Any, settings: Any, sql: str, name: str | None, user_id: int) -> Any:
    """The editor's Run over the store (in a worker thread)."""
    with engine.connect() as conn:
        return run_filter(conn, settings, sql, name=name, user_id=user_id)


async def _backtest(request: Request, user: User, flt: Filter | None, form: Form,
                    values: dict[str, Any], sql: str) -> Response:
    """The editor's Backtest: the SQL in the editor (not saved) over the newest archived nights,
    shown under the editor."""
    engine, settings = request.app.state.engine, request.app.state.settings
    nights = parse_int(form.values.get("nights") or str(DEFAULT_NIGHTS), "nights", lo=1,
                       hi=MAX_NIGHTS, label="nights")
    output = form.choice("output", OUTPUTS, default=flt.output if flt else "plain",
                         label="output")
    if flt is None:
        trial = unsaved_filter(engine, settings, user, name=values["name"].strip(), sql=sql,
                               output=output)
    else:
        trial = edited_filter(engine, flt, sql=sql, output=output)
    report = await run_in_threadpool(backtest, settings, engine, trial, last=nights)
    return _editor(request, flt, values, bt=report.as_dict(),
                   bt_warning=flood_warning(settings, report, trial.byte_quota))


def _save(request: Request, user: User, flt: Filter | None, form: Form, sql: str) -> Filter:
    name = form.text("name", max_len=MAX_NAME, required=True, label="name")
    description = form.text("description", max_len=MAX_DESCRIPTION, label="description")
    # a new stream runs on new alerts unless told otherwise, as `skysift filter add` does
    trigger = form.choice("trigger", TRIGGERS, default="alert", label="trigger")
    output = form.choice("output", OUTPUTS, default="plain", label="output")
    public = form.flag("public")
    engine, settings = request.app.state.engine, request.app.state.settings
    if flt is None:
        return add_filter(engine, settings, user, name=name, sql=sql, description=description,
                          trigger=trigger, output=output, public=public)
    return edit_filter(engine, settings, flt, name=name, sql=sql, description=description,
                       trigger=trigger, output=output, public=public)


@router.get("/filters/new")
def new_filter(request: Request) -> Response:
    require_user(request)
    return _editor(request, None, _editor_values(None))


@router.post("/filters/new")
async def new_filter_post(request: Request) -> Response:
    user = require_user(request)
    return await _editor_post(request, user, None)


@router.get("/filters/{fid}")
def filter_page(request: Request, fid: str, run: str = "", replay: str = "") -> Response:
    """A filter: its topic, settings, SQL, today's counts against the quota, consumer code;
    with ``replay``, the progress or the report of its owner's replay job."""
    user = current_user(request)
    settings = request.app.state.settings
    result = None
    with request.app.state.engine.connect() as conn:
        flt = fv.visible_filter(conn, fid, user)
        run_error = None
        if run:
            if user is None:
                throttle(request, f"run-anon:{client_address(request)}",
                         settings.anonymous_run_rate_limit, settings.api_rate_window_s,
                         "Too many runs from your address: log in, or wait.")
            else:
                throttle(request, f"run:{user.id}", settings.filter_run_rate_limit,
                         settings.api_rate_window_s, "Too many runs.")
            try:
                if user is None or user.id != flt.user_id:
                    _refuse_private_annotators(conn, flt)
                result = run_filter(conn, settings, flt.sql, name=flt.name,
                                    user_id=flt.user_id)
            except FilterError as exc:
                run_error = exc.message
    table = fv.result_table(result.rows) if result else ([], [], [])
    more: dict[str, Any] = {}
    if replay:
        try:
            more = _replay_job(flt, user, replay)
        except NotFound as exc:  # a restart, another web process, or forgotten: say so
            more = {"replay_error": exc.message}
    return _filter_page(request, flt, user, result=result, run_error=run_error,
                        columns=table[0], rows=table[1], ids=table[2], **more)


def _replay_job(flt: Filter, user: User | None, job_id: str) -> dict[str, Any]:
    """What the page shows of a replay job: its progress, then its report or error."""
    if user is None or user.id != flt.user_id:
        raise NotFound("no such replay")
    job = JOBS.get(job_id, user_id=user.id, filter_id=flt.id).as_dict()
    topic = job["topic"] if job["topic"] and job["topic"] != flt.topic else ""
    more: dict[str, Any] = {"job": job, "replay_form": {
        "from": job["from"] or "", "to": job["to"] or "", "topic": topic}}
    if job["state"] == "done":
        more.update(bt=job["report"], undelivered=job["report"]["undelivered"])
    elif job["state"] == "failed":
        more["replay_error"] = job["error"]
    return more


@router.get("/filters/{fid}/replays/{job_id}")
def replay_status(request: Request, fid: str, job_id: str) -> Response:
    """A replay job's progress as JSON (polled by ``static/replay.js``); 404 for anyone's
    but the user's who started it."""
    user = require_user(request)
    job = JOBS.get(job_id, user_id=user.id, filter_id=fid)
    return JSONResponse(job.as_dict(), headers={"Cache-Control": "no-store"})


def _filter_page(request: Request, flt: Filter, user: User | None, status: int = 200,
                 **more: Any) -> Response:
    settings = request.app.state.settings
    with request.app.state.engine.connect() as conn:
        stats = fv.today_stats(conn, flt.topic)
    bootstrap = fv.user_bootstrap(settings)
    more.setdefault("replay_form", {"from": "", "to": "", "topic": ""})
    return render(request, "filter.html", status=status, flt=flt, stats=stats,
                  owner=user is not None and user.id == flt.user_id,
                  topics_protected=settings.private_topics_protected,
                  trigger_label=fv.TRIGGER_LABELS.get(flt.trigger, flt.trigger),
                  output_label=fv.OUTPUT_LABELS.get(flt.output, flt.output),
                  python=fv.python_consumer(bootstrap, flt.topic or ""),
                  command=fv.consume_command(bootstrap, flt.topic or ""), **more)


@router.post("/filters/{fid}/replay")
async def replay_post(request: Request, fid: str) -> Response:
    """Start replaying archived nights into the filter's topic (or another of its owner's) in
    the background; the filter's page then shows its progress, and what it produced."""
    user = require_user(request)
    form = await read_form(request)
    engine, settings = request.app.state.engine, request.app.state.settings
    with engine.connect() as conn:
        flt = fv.owned_filter(conn, fid, user)
    asked = {k: form.values.get(k, "").strip()[:300] for k in ("from", "to", "topic")}
    try:
        nights = night_range(form.text("from", max_len=10, required=True, label="from"),
                             form.text("to", max_len=10, required=True, label="to"))
        with engine.connect() as conn:
            topic = replay_topic(conn, settings, flt,
                                 form.text("topic", max_len=300, label="topic") or None)
        JOBS.room()  # refused for want of room: not counted against the rate limit
        throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
                 settings.api_rate_window_s, "Too many saves and replays.")
        # lists the archive's nights (files, maybe a bucket): not on the event loop
        job = await run_in_threadpool(lambda: JOBS.start(
            settings, engine, flt, user_id=user.id, nights=nights, topic=topic, wait=False))
    except (BadInput, Forbidden, RateLimited, FilterError, ArchiveError, BrokerError) as exc:
        if isinstance(exc, BrokerError):
            log.warning("a replay failed: %s", exc)
        return _filter_page(request, flt, user, status=status_of(exc), replay_form=asked,
                            replay_error=exc.message)
    return RedirectResponse(f"/filters/{flt.id}?replay={job.id}#replay-job", status_code=303)


def _refuse_private_annotators(conn: Any, flt: Filter) -> None:
    """A public filter run by someone else must not show a private annotator's data (the
    annotator may have been made private after the filter was saved)."""

    vf = validate_filter(flt.sql, user_catalogue(conn, flt.user_id), name=flt.name)
    private = private_annotators_read(conn, vf)
    if private:
        raise FilterRejected(f"this filter reads the private annotator {', '.join(private)}: "
                             "only its owner can run it", filter=flt.name)


@router.get("/filters/{fid}/edit")
def edit_page(request: Request, fid: str) -> Response:
    user = require_user(request)
    with request.app.state.engine.connect() as conn:
        flt = fv.owned_filter(conn, fid, user)
    return _editor(request, flt, _editor_values(flt))


@router.post("/filters/{fid}/edit")
async def edit_post(request: Request, fid: str) -> Response:
    user = require_user(request)
    with request.app.state.engine.connect() as conn:
        flt = fv.owned_filter(conn, fid, user)
    return await _editor_post(request, user, flt)


@router.post("/filters/{fid}/delete")
async def delete_post(request: Request, fid: str) -> Response:
    user = require_user(request)
    await read_form(request)
    with request.app.state.engine.connect() as conn:
        flt = fv.owned_filter(conn, fid, user)
    delete_filter(request.app.state.engine, request.app.state.settings, flt)
    flash(request, f"Deleted filter {flt.name} and its topic {flt.topic}.")
    return RedirectResponse("/filters", status_code=303)


@router.post("/filters/{fid}/copy")
async def copy_post(request: Request, fid: str) -> Response:
    """Copy a visible (public) filter into my own, inactive and private."""
    user = require_user(request)
    await read_form(request)
    with request.app.state.engine.connect() as conn:
        src = fv.visible_filter(conn, fid, user)
        taken = {f.name.lower() for f in list_filters(conn, user)}
    base = f"{src.name[:MAX_NAME - 8]}_copy"
    name = next(
        n for n in [base] + [f"{base}{i}" for i in range(2, 1000)] if n.lower() not in taken
    )
    copy = add_filter(request.app.state.engine, request.app.state.settings, user, name=name,
                      sql=src.sql, description=src.description, trigger="none",
                      output=src.output, public=False)
    flash(request, f"Copied {src.user_name}'s filter {src.name} into your filter {copy.name}.")
    return RedirectResponse(f"/filters/{copy.id}/edit", status_code=303)
