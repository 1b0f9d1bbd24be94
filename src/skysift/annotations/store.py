"""Annotators and annotations in the store.

An annotator is a topic (a valid SQL identifier, usable as a table alias in filters) owned by one
user. Only that user may write its annotations, and only while it is active. Each (object,
annotator) has one live annotation: a new one replaces it, with a new timestamp. diaObjectId is
not a foreign key: an annotation for an object the store has not seen yet is kept, and applies
when the object arrives.

Every statement is parameterised: quotes, backslashes and any Unicode in a field are data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from skysift.errors import AnnotationForbidden, AnnotationRejected
from skysift.filters.catalogue import catalogue
from skysift.store.schema import annotators, users
from skysift.store.schema import annotations_table as t
from skysift.store.statements import insert_statement

__all__ = [
    "LIMITS",
    "Annotation",
    "AnnotationRejected",
    "Annotator",
    "add_annotator",
    "check_annotation",
    "check_topic",
    "get_annotator",
    "list_annotators",
    "load_for_batch",
    "set_annotator",
    "store_annotations",
]

#: Lasair's limits (characters); classdict is the JSON text.
LIMITS = {"classification": 80, "version": 80, "explanation": 1024, "classdict": 4096,
          "url": 1024}
TOPIC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
MAX_OBJECT_ID = 2**63 - 1
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class Annotator:
    topic: str
    user_id: int
    user_name: str
    description: str
    url: str
    active: bool
    public: bool
    created: datetime | None


@dataclass(frozen=True)
class Annotation:
    """One checked annotation, ready to store."""

    topic: str
    diaObjectId: int
    classification: str
    version: str = ""
    explanation: str = ""
    classdict: str | None = None  # JSON text of an object
    url: str = ""


# ---------------------------------------------------------------------------------- annotators
def check_topic(topic: str) -> str:
    """An annotator topic must be a valid SQL identifier that no filter table already uses."""
    import sqlglot
    from sqlglot.tokens import TokenType


    if not isinstance(topic, str) or not TOPIC_RE.match(topic) or topic.startswith("__"):
        raise AnnotationRejected(
            f"an annotator topic is letters, digits and _ (at most 63, not starting with a digit "
            f"or '__'), not {topic!r}")
    tokens = sqlglot.Dialect.get_or_raise("mysql").tokenize(topic)
    if len(tokens) != 1 or tokens[0].token_type != TokenType.VAR:
        raise AnnotationRejected(f"'{topic}' is an SQL keyword: choose another annotator topic")
    if catalogue().find_table(topic) is not None or topic.lower() == "annotations":
        raise AnnotationRejected(f"'{topic}' is the name of a table: choose another topic")
    return topic


def _annotator_query():
    return sa.select(annotators, users.c.name.label("user_name")).join(
        users, users.c.id == annotators.c.user_id)


def _to_annotator(row: Any) -> Annotator:
    m = row._mapping
    return Annotator(topic=m["topic"], user_id=int(m["user_id"]), user_name=m["user_name"],
                     description=m["description"] or "", url=m["url"] or "",
                     active=bool(m["active"]), public=bool(m["public"]), created=m["created"])


def add_annotator(conn: sa.Connection, topic: str, owner_id: int, *, description: str = "",
                  url: str = "", public: bool = False, active: bool = True) -> Annotator:
    """Register an annotator (an admin's job). Topics are unique, ignoring case."""

    check_topic(topic)
    clash = conn.execute(sa.select(annotators.c.topic).where(
        sa.func.lower(annotators.c.topic) == topic.lower())).first()
    if clash is not None:
        raise AnnotationRejected(f"annotator '{clash[0]}' already exists")
    conn.execute(annotators.insert().values(
        topic=topic, user_id=owner_id, description=description, url=url, public=public,
        active=active, created=datetime.now(UTC)))
    return get_annotator(conn, topic)


def set_annotator(conn: sa.Connection, topic: str, **changes: Any) -> Annotator:
    """Change description, url, active, public or the owner (user_id) of an annotator."""

    allowed = {"description", "url", "active", "public", "user_id"}
    changes = {k: v for k, v in changes.items() if v is not None}
    if set(changes) - allowed:
        raise AnnotationRejected(f"cannot change {sorted(set(changes) - allowed)}")
    current = get_annotator(conn, topic)
    if changes:
        conn.execute(annotators.update().where(annotators.c.topic == current.topic)
                     .values(**changes))
    return get_annotator(conn, current.topic)


def get_annotator(conn: sa.Connection, topic: str) -> Annotator:
    row = conn.execute(_annotator_query().where(annotators.c.topic == topic)).first()
    if row is None:
        raise AnnotationRejected(f"no annotator '{topic}'")
    return _to_annotator(row)


def list_annotators(conn: sa.Connection) -> list[Annotator]:
    return [_to_annotator(r) for r in
            conn.execute(_annotator_query().order_by(annotators.c.topic))]


# --------------------------------------------------------------------------------- annotations
def _text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise AnnotationRejected(f"{name} is required")
        return ""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise AnnotationRejected(f"{name} must be text")
    if len(value) > LIMITS[name]:
        raise AnnotationRejected(f"{name} is longer than {LIMITS[name]} characters")
    if "\x00" in value:
        raise AnnotationRejected(f"{name} contains a NUL character")
    if required and not value.strip():
        raise AnnotationRejected(f"{name} may not be blank")
    return value


def _object_id(data: Mapping[str, Any]) -> int:
    value = data.get("objectId", data.get("diaObjectId"))
    if value is None:
        raise AnnotationRejected("objectId is required")
    if isinstance(value, bool):
        raise AnnotationRejected("objectId must be a whole number")
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str):
        if not text.isascii() or not text.isdigit() or len(text) > 20:
            raise AnnotationRejected(f"objectId must be a whole number, not {value!r:.40}")
        text = int(text)
    if not isinstance(text, int) or not 0 < text <= MAX_OBJECT_ID:
        raise AnnotationRejected(f"objectId must be a positive 64-bit integer, not {value!r:.40}")
    return text


def _classdict(data: Mapping[str, Any]) -> str | None:
    value = data.get("classdict")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if len(value) > LIMITS["classdict"]:
            raise AnnotationRejected(f"classdict is longer than {LIMITS['classdict']} characters")
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise AnnotationRejected("classdict is not valid JSON") from None
    else:
        parsed = value
    if not isinstance(parsed, dict):
        raise AnnotationRejected("classdict must be a JSON object ({...})")
    try:
        text = json.dumps(parsed, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        raise AnnotationRejected("classdict must be plain JSON (no NaN or infinity)") from None
    if len(text) > LIMITS["classdict"]:
        raise AnnotationRejected(f"classdict is longer than {LIMITS['classdict']} characters")
    if "\x00" in text:
        raise AnnotationRejected("classdict contains a NUL character")
    return text


def check_annotation(data: Mapping[str, Any]) -> Annotation:
    """Check one annotation's fields (Lasair's names and limits).

    ``topic``, ``objectId`` (or ``diaObjectId``) and a non-blank ``classification`` are
    required; ``version``, ``explanation``, ``url`` are optional text; ``classdict`` is a JSON
    object, given as text or as an object.
    """
    if not isinstance(data, Mapping):
        raise AnnotationRejected("an annotation is an object with topic, objectId, classification")
    topic = data.get("topic")
    if not isinstance(topic, str) or not topic:
        raise AnnotationRejected("topic is required")
    return Annotation(
        topic=topic, diaObjectId=_object_id(data),
        classification=_text(data, "classification", required=True),
        version=_text(data, "version"), explanation=_text(data, "explanation"),
        classdict=_classdict(data), url=_text(data, "url"))


def writable_annotators(conn: sa.Connection, topics: set[str]) -> dict[str, Annotator]:
    """The annotators among ``topics`` that exist."""

    if not topics:
        return {}
    rows = conn.execute(_annotator_query().where(annotators.c.topic.in_(sorted(topics))))
    return {a.topic: a for a in map(_to_annotator, rows)}


def check_writer(annotator: Annotator | None, topic: str, user_id: int | None) -> None:
    """Raise unless ``user_id`` may write to ``annotator`` (None: the trusted Kafka path)."""
    if annotator is None:
        raise AnnotationRejected(f"no annotator '{topic}'")
    if user_id is not None and annotator.user_id != user_id:
        raise AnnotationForbidden(f"annotator '{topic}' is not yours: only its owner may write")
    if not annotator.active:
        raise AnnotationRejected(f"annotator '{topic}' is not active")


def store_annotations(conn: sa.Connection, items: Sequence[Annotation],
                      now: datetime | None = None) -> None:
    """Insert or replace each annotation (one live per object and annotator), stamped ``now``."""

    if not items:
        return
    now = now or datetime.now(UTC)

    # the last of several for the same (object, topic) wins, as if applied in order
    latest: dict[tuple[int, str], Annotation] = {}
    for a in items:
        latest[(a.diaObjectId, a.topic)] = a
    rows = [{"diaObjectId": a.diaObjectId, "topic": a.topic, "classification": a.classification,
             "version": a.version, "explanation": a.explanation, "classdict": a.classdict,
             "url": a.url, "timestamp": now} for a in latest.values()]
    stmt = insert_statement(conn, t)  # the dialect's INSERT, with on_conflict_do_update
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.diaObjectId, t.c.topic],
        set_={c: stmt.excluded[c] for c in ("classification", "version", "explanation",
                                             "classdict", "url", "timestamp")})
    conn.execute(stmt, rows)


def get_annotations(conn: sa.Connection, object_id: int) -> list[dict[str, Any]]:
    """The live annotations of one object, by topic."""

    rows = conn.execute(sa.select(t).where(t.c.diaObjectId == object_id).order_by(t.c.topic))
    return [dict(r._mapping) for r in rows]


def load_for_batch(conn: sa.Connection, object_ids: Sequence[int],
                   topics: Sequence[str]) -> list[dict[str, Any]]:
    """Rows for the batch engine's ``annotations`` table: those of ``object_ids`` and
    ``topics``, timestamp as UTC text (the compiled filters read it in that form)."""

    if not object_ids or not topics:
        return []
    out: list[dict[str, Any]] = []
    ids = sorted(set(int(i) for i in object_ids))
    cols = [t.c.diaObjectId, t.c.topic, t.c.classification, t.c.version, t.c.explanation,
            t.c.classdict, t.c.url, t.c.timestamp]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        q = sa.select(*cols).where(t.c.topic.in_(sorted(topics)), t.c.diaObjectId.in_(chunk))
        for r in conn.execute(q):
            row = dict(r._mapping)
            ts = row["timestamp"]
            row["timestamp"] = ts.astimezone(UTC).strftime(TIMESTAMP_FORMAT) if ts else None
            out.append(row)
    return out
