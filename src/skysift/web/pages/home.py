"""The home page: the state of the stream (alerts today and in total, lag, filters, topics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from skysift.accounts import User
from skysift.web.sessions import current_user
from skysift.web.templating import render
from skysift.store.schema import filters, topic_stats, users
from skysift.streams.output import utc_today
from skysift.store.schema import forced_sources, ingest_stats, objects, sources

__all__ = ["StreamState", "router", "stream_state", "visible_topics"]

router = APIRouter(include_in_schema=False)


@dataclass
class StreamState:
    """What the home page shows."""

    ingested_today: int = 0
    rejected_today: int = 0
    ingested_total: int = 0
    objects: int = 0
    sources: int = 0
    forced_sources: int = 0
    last_batch_at: datetime | None = None
    last_batch_lag_s: float | None = None
    active_filters: int = 0
    filters: int = 0
    topics: list[dict[str, Any]] = field(default_factory=list)


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def visible_topics(conn: sa.Connection, user: User | None) -> list[dict[str, Any]]:
    """Topics of public filters and of ``user``'s own, with today's counts (topic_stats)."""

    seen: sa.ColumnElement[bool] = filters.c.public
    if user is not None:
        seen = sa.or_(seen, filters.c.user_id == user.id)
    ts = topic_stats
    q = (sa.select(filters.c.id, filters.c.name, filters.c.topic, filters.c.output,
                   filters.c.trigger, filters.c.public, filters.c.user_id,
                   users.c.name.label("owner"), ts.c.records_produced, ts.c.records_rejected,
                   ts.c.bytes_produced, ts.c.last_record_at)
         .join(users, users.c.id == filters.c.user_id)
         .outerjoin(ts, sa.and_(ts.c.topic == filters.c.topic, ts.c.day == utc_today()))
         .where(seen, filters.c.topic.is_not(None))
         .order_by(filters.c.trigger == "none", filters.c.name))
    return [dict(r._mapping) for r in conn.execute(q)]


def stream_state(conn: sa.Connection, user: User | None) -> StreamState:
    """Counts for the home page, read from the store."""

    st = StreamState()
    today = conn.execute(sa.select(ingest_stats).where(ingest_stats.c.day == utc_today())).first()
    if today is not None:
        st.ingested_today = int(today.alerts_ingested)
        st.rejected_today = int(today.alerts_rejected)
    st.ingested_total = int(conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ingest_stats.c.alerts_ingested), 0))).scalar_one())
    last = conn.execute(sa.select(ingest_stats.c.last_batch_at, ingest_stats.c.last_batch_lag_s)
                        .where(ingest_stats.c.last_batch_at.is_not(None))
                        .order_by(ingest_stats.c.last_batch_at.desc()).limit(1)).first()
    if last is not None:
        st.last_batch_at, st.last_batch_lag_s = last
    st.objects = _count(conn, objects)
    st.sources = _count(conn, sources)
    st.forced_sources = _count(conn, forced_sources)
    st.filters = _count(conn, filters)
    st.active_filters = int(conn.execute(sa.select(sa.func.count()).select_from(filters)
                                         .where(filters.c.trigger != "none")).scalar() or 0)
    st.topics = visible_topics(conn, user)
    return st


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    secs = (datetime.now(UTC) - when).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _workers(request: Request) -> list[Any]:
    """Snapshots of the ingest loops this process runs (``skysift serve``), else none."""
    return [w.snapshot() for w in getattr(request.app.state, "workers", [])]


def _at(when: float | None) -> str | None:
    return None if when is None else datetime.fromtimestamp(when, UTC).isoformat(
        timespec="seconds")


@router.get("/")
def home(request: Request) -> Response:
    """The state of the stream."""
    user = current_user(request)
    with request.app.state.engine.connect() as conn:
        state = stream_state(conn, user)
    workers = _workers(request)
    return render(request, "home.html", state=state, last_ago=_ago(state.last_batch_at),
                  workers=workers, show_errors=bool(user is not None and user.is_admin),
                  ago=lambda t: _ago(None if t is None else datetime.fromtimestamp(t, UTC)))


@router.get("/health")
def health(request: Request) -> Response:
    """For load balancers and monitors: 200 with ``"status": "ok"`` or ``"degraded"`` (an
    ingest loop waits for the database or the broker, or is being restarted), 503 with
    ``"down"`` when the store does not answer. No secrets and no error texts: those are on the
    home page for admins and in the worker's log and metrics."""
    store_ok = True
    last_batch_at = None
    try:
        with request.app.state.engine.connect() as conn:
            last_batch_at = conn.execute(sa.select(sa.func.max(ingest_stats.c.last_batch_at))
                                         ).scalar()
    except sa.exc.SQLAlchemyError:
        store_ok = False
    workers = _workers(request)
    status = "ok" if store_ok and all(w.healthy for w in workers) else "degraded"
    if not store_ok:
        status = "down"
    body = {
        "status": status,
        "store": "ok" if store_ok else "unreachable",
        "last_batch_at": last_batch_at.isoformat(timespec="seconds") if last_batch_at else None,
        "ingest": [{"loop": w.name, "status": w.status, "since": _at(w.since),
                    "last_batch_at": _at(w.last_batch_at), "problem": w.problem,
                    "problem_since": _at(w.incident_since), "restarts": w.restarts,
                    "alerts_ingested": w.alerts_ingested, "alerts_rejected": w.alerts_rejected}
                   for w in workers],
    }
    return JSONResponse(body, status_code=503 if status == "down" else 200)
