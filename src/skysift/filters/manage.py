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
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from skysift.accounts import User
from skysift.config import Settings
from skysift.errors import FilterConflict, FilterRejected, SkysiftError
from skysift.filters.catalogue import annotator_acl, catalogue
from skysift.filters.repository import (
    KAFKA_OUTPUTS,
    OUTPUTS,
    TRIGGERS,
    Filter,
    Output,
    Trigger,
    active_filters,
    active_output_topics,
    get_filter,
    list_filters,
    record_error,
)
from skysift.filters.sandbox import run_filter, validate_for_user
from skysift.filters.seeding import reset_topic
from skysift.store.schema import email_pending, filters
from skysift.store.statements import inserted_id
from skysift.streams.kafka import shared_admin
from skysift.streams.topics import delete_topic, topic_name

# the rules live here; the record, the queries, the sandbox and the seeding are re-exported
# from the modules that own them, for the CLI, the web and the tests
__all__ = [
    "KAFKA_OUTPUTS",
    "OUTPUTS",
    "TRIGGERS",
    "Filter",
    "Output",
    "Trigger",
    "active_filters",
    "active_output_topics",
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


def _check_name_free(conn: sa.Connection, user: User, name: str, topic: str,
                     exclude_id: int | None) -> None:
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
    name = name.strip()
    _check_choice(trigger, TRIGGERS, "trigger", name)
    _check_choice(output, OUTPUTS, "output", name)
    vf = validate_for_user(sql, name, user.id, engine=engine)
    topic = topic_name(user.id, name)
    with engine.begin() as conn:
        _check_public(conn, vf, public, name)
        _check_name_free(conn, user, name, topic, None)
        now = datetime.now(UTC)
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
    vf = validate_for_user(changes.get("sql", flt.sql), name, flt.user_id, engine=engine)
    topic = topic_name(flt.user_id, name)
    user = User(flt.user_id, flt.user_name, None)
    reset = _needs_reset(flt, changes, name)
    with engine.begin() as conn:
        _check_public(conn, vf, changes.get("public", flt.public), name)
        _check_name_free(conn, user, name, topic, flt.id)
        now = datetime.now(UTC)
        values = dict(changes, name=name, topic=topic, modified=now)
        if "sql" in changes:
            values.update(last_error=None, last_error_at=None)
        trigger = changes.get("trigger", flt.trigger)
        values.update(expires=_expiry(settings, trigger, now), expiry_warned_at=None)
        conn.execute(filters.update().where(filters.c.id == flt.id).values(**values))
        new = get_filter(conn, f"#{flt.id}")
        if ({"sql", "output"} & {k for k, v in changes.items() if getattr(flt, k) != v}
                or new.output != "email"):
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
    with engine.begin() as conn:
        conn.execute(filters.delete().where(filters.c.id == flt.id))
        if flt.topic:
            _delete_topic(settings, flt.topic)


def _delete_topic(settings: Settings, topic: str) -> None:
    delete_topic(shared_admin(settings), topic)


