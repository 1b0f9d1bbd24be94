"""``/api/topics/``: the Kafka topics a user may read: their own and every public filter's.

Email filters have no Kafka topic and are not listed (their counts are on their filter page).

Each entry: ``topic``, ``filter`` (name), ``filter_id``, ``owner_id``, ``owner``, ``output``
(plain / lite / full), ``trigger``, ``public``, today's (UTC) ``records_produced``,
``records_rejected``, ``bytes_produced``, ``bytes_rejected``, the ``byte_quota`` and
``last_record_at`` (the newest record on any day; ISO 8601 UTC, or null).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import Response

from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import Engine
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.store.schema import filters, topic_stats, users

__all__ = ["router", "visible_topics"]

router = api_router()


def visible_topics(conn: sa.Connection, user_id: int) -> list[dict]:
    """The topics ``user_id`` may see, theirs first, then by topic name."""

    today = datetime.now(UTC).date()
    f, ts = filters.c, topic_stats.c
    rows = conn.execute(
        sa.select(f.id, f.name, f.user_id, users.c.name.label("owner"), f.output, f.trigger,
                  f.public, f.topic, f.byte_quota)
        .join(users, users.c.id == f.user_id)
        .where(f.topic.is_not(None), f.output != "email",  # email filters have no topic
               sa.or_(f.user_id == user_id, f.public.is_(True)))
    ).all()
    topics = [r.topic for r in rows]
    today_rows = (
        {
            r.topic: r
            for r in conn.execute(
                sa.select(
                    ts.topic,
                    ts.records_produced,
                    ts.records_rejected,
                    ts.bytes_produced,
                    ts.bytes_rejected,
                ).where(ts.day == today, ts.topic.in_(topics))
            )
        }
        if topics
        else {}
    )
    last = dict(conn.execute(
        sa.select(ts.topic, sa.func.max(ts.last_record_at)).where(ts.topic.in_(topics))
        .group_by(ts.topic)).all()) if topics else {}
    out = []
    for r in rows:
        t = today_rows.get(r.topic)
        when = last.get(r.topic)
        if isinstance(when, str):  # SQLite's max() of a timestamp column is text
            when = datetime.fromisoformat(when).replace(tzinfo=UTC)
        out.append({
            "topic": r.topic, "filter": r.name, "filter_id": r.id, "owner_id": r.user_id,
            "owner": r.owner, "output": r.output, "trigger": r.trigger, "public": bool(r.public),
            "records_produced": int(t.records_produced) if t else 0,
            "records_rejected": int(t.records_rejected) if t else 0,
            "bytes_produced": int(t.bytes_produced) if t else 0,
            "bytes_rejected": int(t.bytes_rejected) if t else 0,
            "byte_quota": int(r.byte_quota),
            "last_record_at": when.isoformat() if when is not None else None,
        })
    out.sort(key=lambda e: (e["owner_id"] != user_id, e["topic"]))
    return out


@router.get("/topics/", summary="Your topics and the public ones, with today's counts")
def topics(user: ApiUser, engine: Engine) -> Response:
    """``{"topics": [...]}`` (see the module doc for each entry's keys)."""
    with engine.connect() as conn:
        return ApiJSONResponse({"topics": visible_topics(conn, user.id)})
