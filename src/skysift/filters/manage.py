"""Creating, editing, renaming, deleting and running filters (the rules users see).

- A filter's SQL is validated against the documented catalogue before it is saved.
- Its topic is ``lasair_<user id><sanitised name>``; a name whose topic is another filter's is
  refused, and so is a second filter of one user whose name differs only in case.
- Creating or editing a filter with Kafka output empties its topic (delete and recreate) and seeds
  it with up to ``seed_records`` records from the store, most recent objects first (reason
  ``reset``). Renaming deletes the old topic. Deleting a filter deletes its topic.
- All of it happens inside one database transaction: if Kafka refuses, nothing is saved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from skysift.accounts import User
from skysift.filters.catalogue import annotator_acl, catalogue, user_catalogue
from skysift.config import Settings
from skysift.errors import FilterConflict, FilterError, FilterRejected, SkysiftError

if TYPE_CHECKING:
    from skysift.filters.compile import Dialect

__all__ = [
    "OUTPUTS",
    "TRIGGERS",
    "Filter",
    "active_filters",
    "add_filter",
    "catalogue",
    "delete_filter",
    "edit_filter",
    "get_filter",
    "list_filters",
    "private_annotators_read",
    "record_error",
    "reset_topic",
    "run_filter",
]

log = logging.getLogger(__name__)

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


def _validate(sql: str, name: str, user_id: int | None = None, *, engine: Any = None,
              conn: Any = None):
    """Validate against the catalogue of ``user_id``: the documented tables plus the annotators
    that user may read (public ones and their own; see skysift.filters.catalogue), and
    compile for every engine (:func:`skysift.filters.compile.check_compiles`): a filter that
    cannot run everywhere is refused when it is saved or run, never met by the pipeline."""
    from skysift.filters.compile import check_compiles
    from skysift.filters.validate import validate_filter

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


def private_annotators_read(conn: sa.Connection, vf: Any) -> list[str]:
    """The private annotators that a validated filter reads (their data must not be shown to
    people other than the annotator's owner, so such a filter cannot be public)."""
    private = {topic for topic, _owner, public in annotator_acl(conn) if not public}
    return sorted(t for t in vf.annotators if t in private)


def _check_public(conn: sa.Connection, vf: Any, public: bool, name: str) -> None:
    if not public:
        return
    private = private_annotators_read(conn, vf)
    if private:
        raise FilterRejected(
            f"a public filter cannot read the private annotator {', '.join(private)}: anyone "
            "could run it and see that annotator's data. Keep the filter private, or make the "
            "annotator public", filter=name)


def _check_choice(value: str, allowed: tuple[str, ...], what: str, name: str) -> None:
    if value not in allowed:
        raise FilterRejected(f"{what} must be one of {', '.join(allowed)}, not {value!r}",
                             filter=name)


def _now() -> datetime:
    return datetime.now(UTC)


def _query():
    from skysift.store.schema import filters, users

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
    from skysift.store.schema import filters

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
    from skysift.store.schema import filters

    q = _query().order_by(filters.c.user_id, filters.c.name)
    if user is not None:
        q = q.where(filters.c.user_id == user.id)
    return [_to_filter(r) for r in conn.execute(q)]


def active_filters(
    conn: sa.Connection, triggers: tuple[str, ...] = ("alert", "both")
) -> list[Filter]:
    """Filters that run on each batch of arriving alerts."""
    from skysift.store.schema import filters

    q = _query().where(filters.c.trigger.in_(triggers)).order_by(filters.c.id)
    return [_to_filter(r) for r in conn.execute(q)]


def active_output_topics(conn: sa.Connection) -> set[str]:
    """The Kafka topics of every filter that produces to Kafka now (active, not email)."""
    from skysift.store.schema import filters

    f = filters.c
    rows = conn.execute(sa.select(f.topic).where(f.trigger != "none", f.output != "email",
                                                 f.topic.is_not(None)))
    return {r[0] for r in rows}


def _check_name_free(conn: sa.Connection, user: User, name: str, topic: str,
                     exclude_id: int | None) -> None:
    from skysift.store.schema import filters

    cond = sa.and_(filters.c.user_id == user.id, sa.func.lower(filters.c.name) == name.lower())
    if exclude_id is not None:
        cond = sa.and_(cond, filters.c.id != exclude_id)
    if conn.execute(sa.select(filters.c.id).where(cond)).first() is not None:
        raise FilterConflict("you already have a filter of that name (names ignore case)",
                             filter=name)
    cond = filters.c.topic == topic
    if exclude_id is not None:
        cond = sa.and_(cond, filters.c.id != exclude_id)
    other = conn.execute(sa.select(filters.c.id, filters.c.name).where(cond)).first()
    if other is not None:
        raise FilterConflict(
            f"its Kafka topic {topic} is already another filter's; choose another name",
            filter=name, topic=topic)


def add_filter(engine: sa.Engine, settings: Settings, user: User, *, name: str, sql: str,
               description: str = "", trigger: str = "none", output: str = "plain",
               public: bool = False, byte_quota: int | None = None) -> Filter:
    """Validate and save a new filter; for Kafka output, create and seed its topic.

    The row is written in a short transaction; the topic is created and seeded after it, so a
    slow seed query never holds the store's write lock. If the topic cannot be made, the row is
    deleted again and the topic removed: a failed save leaves nothing behind.
    """
    from skysift.store.schema import filters
    from skysift.store.statements import inserted_id
    from skysift.streams.topics import topic_name

    name = name.strip()
    _check_choice(trigger, TRIGGERS, "trigger", name)
    _check_choice(output, OUTPUTS, "output", name)
    vf = _validate(sql, name, user.id, engine=engine)
    topic = topic_name(user.id, name)
    with engine.begin() as conn:
        _check_public(conn, vf, public, name)
        _check_name_free(conn, user, name, topic, None)
        now = _now()
        result = conn.execute(filters.insert().values(
            user_id=user.id, name=name, description=description, sql=sql, trigger=trigger,
            output=output, public=public, topic=topic,
            byte_quota=settings.daily_byte_quota if byte_quota is None else byte_quota,
            created=now, modified=now, expires=_expiry(settings, trigger, now)))
        flt = get_filter(conn, f"#{inserted_id(result)}")
    if flt.output in KAFKA_OUTPUTS:
        try:
            reset_topic(engine, settings, flt)
        except BaseException:
            with engine.begin() as conn:
                conn.execute(filters.delete().where(filters.c.id == flt.id))
            try:
                _delete_topic(settings, topic)
            except SkysiftError as exc:
                log.warning("could not remove topic %s of a failed save: %s", topic, exc)
            raise
    return flt


def _expiry(settings: Settings, trigger: str, now: datetime) -> datetime | None:
    """When a filter saved now with ``trigger`` expires (None: inactive, or no expiry)."""
    from datetime import timedelta

    if trigger == "none" or settings.filter_expiry_days <= 0:
        return None
    return now + timedelta(days=settings.filter_expiry_days)


def _needs_reset(flt: Filter, changes: dict[str, Any], name: str) -> bool:
    """Whether an edit empties and seeds the topic.

    It does when the SQL, output or name changes, when the filter is (re)activated, or when it
    is saved with nothing changed (Lasair refreshes on every save). It does not when the edit only
    deactivates it (trigger -> none: the topic stays, nothing more is produced) or only changes
    description, public or quota.
    """
    changed = {k for k, v in changes.items() if getattr(flt, k) != v}
    if name != flt.name:
        changed.add("name")
    if not changed:
        return True
    if changed & {"sql", "output", "name"}:
        return True
    return "trigger" in changed and changes["trigger"] != "none"


def edit_filter(engine: sa.Engine, settings: Settings, flt: Filter, **changes: Any) -> Filter:
    """Change a filter (sql, name, description, trigger, output, public, byte_quota).

    An edit of the SQL, output, name or trigger of a Kafka filter empties its topic and seeds it
    again; a rename moves it to the new topic and deletes the old one. Deactivating it (trigger
    ``none``) leaves the topic as it is. Saving an active filter sets its expiry again
    (``filter_expiry_days`` from now). Changing the SQL or output of an email filter drops the
    matches waiting for its next digest.
    """
    from skysift.store.schema import filters
    from skysift.streams.topics import topic_name

    changes = {k: v for k, v in changes.items() if v is not None}
    allowed = {"sql", "name", "description", "trigger", "output", "public", "byte_quota"}
    unknown = set(changes) - allowed
    if unknown:
        raise FilterRejected(f"cannot change {', '.join(sorted(unknown))}", filter=flt.name)
    name = changes.get("name", flt.name).strip()
    if "trigger" in changes:
        _check_choice(changes["trigger"], TRIGGERS, "trigger", name)
    if "output" in changes:
        _check_choice(changes["output"], OUTPUTS, "output", name)
    vf = _validate(changes.get("sql", flt.sql), name, flt.user_id, engine=engine)
    topic = topic_name(flt.user_id, name)
    user = User(flt.user_id, flt.user_name, None)
    reset = _needs_reset(flt, changes, name)
    with engine.begin() as conn:
        _check_public(conn, vf, changes.get("public", flt.public), name)
        _check_name_free(conn, user, name, topic, flt.id)
        now = _now()
        values = dict(changes, name=name, topic=topic, modified=now)
        if "sql" in changes:
            values.update(last_error=None, last_error_at=None)
        trigger = changes.get("trigger", flt.trigger)
        values.update(expires=_expiry(settings, trigger, now), expiry_warned_at=None)
        conn.execute(filters.update().where(filters.c.id == flt.id).values(**values))
        new = get_filter(conn, f"#{flt.id}")
        if ({"sql", "output"} & {k for k, v in changes.items() if getattr(flt, k) != v}
                or new.output != "email"):
            from skysift.store.schema import email_pending

            conn.execute(email_pending.delete().where(email_pending.c.filter_id == flt.id))
    # the topics change after the row is saved, outside its write transaction
    if flt.topic and flt.topic != new.topic:
        _delete_topic(settings, flt.topic)
    if new.output in KAFKA_OUTPUTS:
        if reset:
            reset_topic(engine, settings, new)
    elif new.topic:
        _delete_topic(settings, new.topic)  # email filters have no Kafka topic
    return new


def delete_filter(engine: sa.Engine, settings: Settings, flt: Filter) -> None:
    """Delete a filter and its topic."""
    from skysift.store.schema import filters

    with engine.begin() as conn:
        conn.execute(filters.delete().where(filters.c.id == flt.id))
        if flt.topic:
            _delete_topic(settings, flt.topic)


def _delete_topic(settings: Settings, topic: str) -> None:
    from skysift.streams.kafka import shared_admin
    from skysift.streams.topics import delete_topic

    delete_topic(shared_admin(settings), topic)


def record_error(conn: sa.Connection, filter_id: int, error: str | None) -> None:
    """Keep (or clear) the last run-time error of a filter."""
    from skysift.store.schema import filters

    conn.execute(filters.update().where(filters.c.id == filter_id).values(
        last_error=error, last_error_at=_now() if error else None))


def _dialect(conn: sa.Connection) -> Dialect:
    return "postgresql" if conn.dialect.name == "postgresql" else "sqlite"


def run_filter(conn: sa.Connection, settings: Settings, sql: str, *, name: str | None = None,
               limit: int | None = None, recent_first: bool = False,
               restrict_ids: list[int] | None = None, user_id: int | None = None):
    """Run filter SQL over the whole store, read-only, with a deadline and a row limit.

    Returns a QueryResult (rows, truncated, elapsed_s).
    """
    from skysift.filters.compile import compile_filter
    from skysift.filters.engine import run_query

    vf = _validate(sql, name or "query", user_id, conn=conn)
    if recent_first and not vf.ast.args.get("order"):
        vf = _order_recent_first(vf)
    limit = limit or settings.run_row_limit
    text = compile_filter(vf, _dialect(conn), limit=limit + 1, restrict_ids=restrict_ids)
    return run_query(conn, text, dialect=_dialect(conn), timeout_s=settings.run_timeout_s,
                     row_cap=limit, filter_name=name)


def _order_recent_first(vf):
    """``vf`` ordered by the objects' latest detection, newest first (for seeding), whatever
    the objects table is called in it (``FROM objects AS o``)."""
    import dataclasses

    from sqlglot import exp

    column = exp.column("lastDiaSourceMjdTai", table=vf.objects_ref, quoted=True)
    ast = vf.ast.copy().order_by(exp.Ordered(this=column, desc=True), copy=False)
    return dataclasses.replace(vf, ast=ast, _compiled={})


def reset_topic(engine: sa.Engine, settings: Settings, flt: Filter) -> int:
    """Empty the filter's topic and seed it with up to ``seed_records`` records (reason reset).

    The seed query reads the store on its own connection (no write lock held); the records go
    through the process's shared producer. A seed query that fails (past its deadline, say)
    leaves the topic empty and is recorded on the filter (``last_error``); the save stands.
    """
    from skysift.streams.deliver import LightCurve, deliver_rows
    from skysift.store.lightcurve import fetch_lightcurves, fetch_objects
    from skysift.streams.kafka import shared_admin, shared_producer
    from skysift.streams.output import RecordSink, save_counts
    from skysift.streams.records import utc_now_text
    from skysift.streams.topics import recreate_topic

    assert flt.topic is not None
    recreate_topic(shared_admin(settings), settings, flt.topic)
    lightcurves: dict[int, Any] = {}
    with engine.connect() as conn:
        try:
            result = run_filter(conn, settings, flt.sql, name=flt.name,
                                limit=settings.seed_records, recent_first=True,
                                user_id=flt.user_id)
        except FilterError as exc:
            log.warning("topic %s emptied, not seeded: %s", flt.topic, exc)
            conn.rollback()
            with engine.begin() as write:
                record_error(write, flt.id, f"seeding the topic: {exc}")
            return 0
        rows = result.rows[: settings.seed_records]
        if flt.output != "plain" and rows:
            from skysift.streams.deliver import row_object_id

            ids = [i for i in (row_object_id(r) for r in rows) if i is not None]
            objs = fetch_objects(conn, ids)
            lcs = fetch_lightcurves(conn, ids)
            for oid in ids:
                lc = lcs.get(oid)
                obj = objs.get(oid) or {}
                lightcurves[oid] = LightCurve(
                    dia_object=_dia_object_of(obj),
                    sources=list(lc.diaSources) if lc is not None else [],
                    forced=list(lc.diaForcedSources) if lc is not None else [])
    sink = RecordSink(shared_producer(settings),
                      max_message_bytes=settings.topic_max_message_bytes)
    produced, _ = deliver_rows(
        sink, topic=flt.topic, filter_name=flt.name, output=flt.output, quota=-1, rows=rows,
        utc=utc_now_text(), reason="reset", lightcurve_for=lightcurves.get)
    sink.flush()
    with engine.begin() as conn:
        save_counts(conn, sink.take_counts())
    log.info("topic %s emptied and seeded with %d records", flt.topic, produced)
    return produced


def _dia_object_of(obj: dict) -> dict | None:
    import json

    raw = obj.get("diaObject")
    if raw is None:
        return None
    return json.loads(raw) if isinstance(raw, str) else raw
