"""The filters as stored: the :class:`Filter` record and the queries that read and mark them.

The rules for creating, editing and deleting filters are :mod:`skysift.filters.manage`; this
module only reads the ``filters`` table (and keeps a filter's last run-time error).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from skysift.accounts import User
from skysift.errors import FilterError
from skysift.store.schema import filters, users

__all__ = ["KAFKA_OUTPUTS", "OUTPUTS", "TRIGGERS", "Filter", "Output", "Trigger",
           "active_filters", "active_output_topics", "get_filter", "list_filters",
           "record_error"]

Trigger = Literal["none", "alert", "annotation", "both"]
Output = Literal["plain", "lite", "full", "email"]
TRIGGERS: tuple[str, ...] = ("none", "alert", "annotation", "both")  # see skysift.annotations
OUTPUTS: tuple[str, ...] = ("plain", "lite", "full", "email")  # email: skysift.notify
KAFKA_OUTPUTS = ("plain", "lite", "full")


@dataclass(frozen=True)
class Filter:
    id: int
    user_id: int
    user_name: str
    name: str
    description: str
    sql: str
    trigger: str
    output: str
    public: bool
    topic: str | None
    byte_quota: int
    created: datetime | None
    modified: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    expires: datetime | None = None  # active filters: when it is deactivated (skysift.notify)

    @property
    def active(self) -> bool:
        return self.trigger != "none"


def _now() -> datetime:
    return datetime.now(UTC)


def _query():
    return sa.select(filters, users.c.name.label("user_name")).join(
        users, users.c.id == filters.c.user_id)


def _to_filter(row: Any) -> Filter:
    m = row._mapping
    return Filter(
        id=int(m["id"]), user_id=int(m["user_id"]), user_name=m["user_name"], name=m["name"],
        description=m["description"] or "", sql=m["sql"], trigger=m["trigger"],
        output=m["output"], public=bool(m["public"]), topic=m["topic"],
        byte_quota=int(m["byte_quota"]), created=m["created"], modified=m["modified"],
        last_error=m["last_error"], last_error_at=m["last_error_at"],
        expires=m.get("expires"))


def get_filter(conn: sa.Connection, name_or_topic: str, user: User | None = None) -> Filter:
    """A filter by name (of ``user``, or unique among all users), by topic, or by ``#id``."""
    q = _query()
    if name_or_topic.startswith("#") and name_or_topic[1:].isdigit():
        rows = conn.execute(q.where(filters.c.id == int(name_or_topic[1:]))).all()
    else:
        cond = sa.or_(sa.func.lower(filters.c.name) == name_or_topic.lower(),
                      filters.c.topic == name_or_topic)
        if user is not None:
            cond = sa.and_(cond, filters.c.user_id == user.id)
        rows = conn.execute(q.where(cond)).all()
    if not rows:
        raise FilterError("no such filter", filter=name_or_topic)
    if len(rows) > 1:
        owners = ", ".join(sorted(r._mapping["user_name"] for r in rows))
        raise FilterError(f"several users have a filter of that name ({owners}): give --user",
                          filter=name_or_topic)
    return _to_filter(rows[0])


def list_filters(conn: sa.Connection, user: User | None = None) -> list[Filter]:
    q = _query().order_by(filters.c.user_id, filters.c.name)
    if user is not None:
        q = q.where(filters.c.user_id == user.id)
    return [_to_filter(r) for r in conn.execute(q)]


def active_filters(
    conn: sa.Connection, triggers: tuple[str, ...] = ("alert", "both")
) -> list[Filter]:
    """Filters that run on each batch of arriving alerts."""
    q = _query().where(filters.c.trigger.in_(triggers)).order_by(filters.c.id)
    return [_to_filter(r) for r in conn.execute(q)]


def active_output_topics(conn: sa.Connection) -> set[str]:
    """The Kafka topics of every filter that produces to Kafka now (active, not email)."""
    f = filters.c
    rows = conn.execute(sa.select(f.topic).where(f.trigger != "none", f.output != "email",
                                                 f.topic.is_not(None)))
    return {r[0] for r in rows}


def record_error(conn: sa.Connection, filter_id: int, error: str | None) -> None:
    """Keep (or clear) the last run-time error of a filter."""
    conn.execute(filters.update().where(filters.c.id == filter_id).values(
        last_error=error, last_error_at=_now() if error else None))
