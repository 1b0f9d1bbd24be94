"""``/api/filters/{id}/backtest/`` and ``/api/filters/{id}/replay/``: your filter over the alert
archive (:mod:`skysift.backtest`), as JSON. Only the filter's owner may call them (another
user's private filter is 404, a public one 403, as for changes).

- ``POST /api/filters/{id}/backtest/``: what the filter (or its edit, ``sql`` or Lasair's
  ``selected``/``tables``/``conditions``, and ``output``, not saved) would have produced over
  the newest ``nights`` archived nights (default 7), or ``from``..``to`` (``YYYY-MM-DD``);
  nothing is sent. Answers the report (totals, and per night: alerts, records, bytes, the filter
  stage's p50/p99 seconds per batch, the match fraction, the first matching objects, problems)
  and ``flood_warning`` (text, or null). Counts against ``filter_run_rate_limit``.
- ``POST /api/filters/{id}/replay/``: produce those records, ``from``..``to``, into the filter's
  topic or ``topic`` (one named after it: ``<its topic>.<name>``), header ``reason=replay``, under
  the filter's daily byte quota. Answers the report and ``undelivered`` (records Kafka had not
  confirmed) when it is done; with ``wait=false``, 202 at once with the job's progress and its
  ``status_url``. Counts against ``filter_save_rate_limit``; at most
  :data:`skysift.web.jobs.MAX_RUNNING` replays run at once in a web process (429 beyond).
- ``GET /api/filters/{id}/replay/{job}/``: the progress of a replay of yours
  (:meth:`skysift.web.jobs.ReplayJob.as_dict`), then its report; 404 for anyone else's.

Nights the archive does not hold, an archive with no night yet and invalid SQL answer 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from skysift.backtest import backtest as run_backtest
from skysift.backtest import flood_warning
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.filters import FilterId, owned_filter, sql_of
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.backtests import (
    DEFAULT_NIGHTS,
    MAX_NIGHTS,
    edited_filter,
    night_range,
    replay_topic,
)
from skysift.web.httperrors import BadInput
from skysift.web.jobs import JOBS
from skysift.web.throttles import throttle

__all__ = ["router"]

router = api_router()
_NIGHTS_SPECS = (
    ("nights", "integer", f"the newest this many archived nights (default {DEFAULT_NIGHTS})",
     False),
    ("from", "string", "the first night, YYYY-MM-DD (with to, instead of nights)", False),
    ("to", "string", "the last night, YYYY-MM-DD (included)", False),
)
BACKTEST_SPECS = (
    ("sql", "string", "SQL to try instead of the saved SQL (not saved)", False),
    ("selected", "string", "Lasair's SELECT part (with tables, conditions; instead of sql)",
     False),
    ("tables", "string", "Lasair's FROM part", False),
    ("conditions", "string", "Lasair's WHERE part", False),
    ("output", "string", "plain, lite, full or email instead of the saved output", False),
    *_NIGHTS_SPECS,
)
REPLAY_SPECS = (
    ("from", "string", "the first night, YYYY-MM-DD", True),
    ("to", "string", "the last night, YYYY-MM-DD (included)", True),
    ("topic", "string", "the topic to write: the filter's (default) or <its topic>.<name>",
     False),
    ("wait", "boolean", "true (default): answer the report when done; false: answer 202 at once "
     "with the job and its status_url", False),
)


def _known(p: Params, specs: tuple[tuple[str, str, str, bool], ...]) -> None:
    unknown = sorted(set(p.values) - {name for name, *_ in specs})
    if unknown:
        raise BadInput(f"unknown field(s): {', '.join(unknown)}")


def _nights(p: Params) -> dict[str, Any]:
    """``nights=[...]`` or ``last=N`` for :func:`skysift.backtest.run_archive`."""
    dated = "from" in p or "to" in p
    if dated and "nights" in p:
        raise BadInput("give either nights or from and to, not both", field="nights")
    if dated:
        return {"nights": night_range(p.text("from", max_len=10), p.text("to", max_len=10))}
    return {"last": p.integer("nights", lo=1, hi=MAX_NIGHTS, required=False,
                              default=DEFAULT_NIGHTS)}


@router.post("/filters/{filter_id}/backtest/",
             summary="What your filter (or its edit) would have produced over archived nights",
             openapi_extra=openapi_params(*BACKTEST_SPECS, body=True))
def backtest(request: Request, filter_id: FilterId, user: ApiUser, p: ApiParams,
             settings: SettingsDep, engine: Engine) -> Response:
    """The report: totals, ``nights`` (one entry a night) and ``flood_warning``."""
    flt = owned_filter(engine, user, filter_id, "backtest")
    _known(p, BACKTEST_SPECS)
    sql = sql_of(p)
    output = p.text("output", max_len=32, required=False) or None
    which = _nights(p)
    throttle(request, f"run:{user.id}", settings.filter_run_rate_limit,
             settings.api_rate_window_s, "Too many runs.")
    trial = edited_filter(engine, flt, sql=sql, output=output)
    report = run_backtest(settings, engine, trial, **which)
    return ApiJSONResponse({**report.as_dict(),
                            "flood_warning": flood_warning(settings, report, trial.byte_quota)})


@router.post("/filters/{filter_id}/replay/",
             summary="Produce what your filter would have produced over archived nights",
             openapi_extra=openapi_params(*REPLAY_SPECS, body=True))
def replay(request: Request, filter_id: FilterId, user: ApiUser, p: ApiParams,
           settings: SettingsDep, engine: Engine) -> Response:
    """The report, and ``undelivered``: records Kafka had not confirmed; with ``wait=false``,
    202 and the job's progress, with ``status_url``."""
    flt = owned_filter(engine, user, filter_id, "replay")
    _known(p, REPLAY_SPECS)
    nights = night_range(p.text("from", max_len=10), p.text("to", max_len=10))
    asked = p.text("topic", max_len=300, required=False) or None
    wait = p.boolean("wait", default=True)
    with engine.connect() as conn:
        topic = replay_topic(conn, settings, flt, asked)
    JOBS.room()  # a replay refused for want of room is not counted against the rate limit
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves and replays.")
    job = JOBS.start(settings, engine, flt, user_id=user.id, nights=nights, topic=topic,
                     wait=wait)
    if wait:
        return ApiJSONResponse(job.report)
    url = request.url_for("replay_status", filter_id=str(flt.id), job_id=job.id).path
    return ApiJSONResponse({**job.as_dict(), "status_url": url}, status_code=202,
                           headers={"Location": url})


@router.get("/filters/{filter_id}/replay/{job_id}/",
            summary="How far a replay of yours started with wait=false is, then its report")
def replay_status(filter_id: FilterId, job_id: str, user: ApiUser) -> Response:
    """``state`` (running, done, failed), ``nights_total``/``nights_done``, ``alerts_total``/
    ``alerts_done``, ``records`` so far, then ``report`` (as the synchronous replay answers)
    or ``error``. Another user's job, or one this process does not know, is 404."""
    return ApiJSONResponse(JOBS.get(job_id, user_id=user.id, filter_id=filter_id).as_dict())
