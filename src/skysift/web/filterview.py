"""What the filter pages need besides the routes: who may see what, counts, consumer code.

Visibility rule: a filter is visible to its owner and, when public, to everyone; a private
filter of someone else is "not found" (404), never "forbidden", so its existence does not leak.
Only the owner may change or delete a filter (403 for a public filter of someone else).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from skysift.accounts import User
from skysift.config import Settings
from skysift.errors import BrokerError, FilterError
from skysift.filters.manage import Filter, get_filter
from skysift.streams.snippets import consume_command, python_consumer  # re-export
from skysift.web.forms import parse_int
from skysift.web.httperrors import Forbidden, NotFound
from skysift.store.schema import topic_stats as ts
from skysift.streams.output import utc_today
from skysift.streams.kafka import bootstrap_servers
from skysift.streams.deliver import row_object_id
from skysift.filters.validate import HIDDEN_KEY

__all__ = [
    "OUTPUT_LABELS",
    "TRIGGER_LABELS",
    "consume_command",
    "owned_filter",
    "python_consumer",
    "result_table",
    "today_stats",
    "user_bootstrap",
    "visible_filter",
]

TRIGGER_LABELS = {"none": "not active (runs only when you click Run)",
                  "alert": "on new alert",
                  "annotation": "when an annotation it uses arrives",
                  "both": "on new alert and when an annotation it uses arrives"}
OUTPUT_LABELS = {"plain": "kafka stream: the selected attributes",
                 "lite": "kafka with lite lightcurve",
                 "full": "kafka with full alert",
                 "email": "email: a daily digest of the matches (no Kafka topic)"}


def _load(conn: sa.Connection, raw_id: str) -> Filter:
    fid = parse_int(raw_id, "filter id", lo=1, hi=2**31 - 1)
    try:
        return get_filter(conn, f"#{fid}")
    except FilterError as exc:
        raise NotFound("no such filter") from exc


def visible_filter(conn: sa.Connection, raw_id: str, user: User | None) -> Filter:
    """The filter if ``user`` may see it (owner, or public); :class:`NotFound` otherwise."""
    flt = _load(conn, raw_id)
    if flt.public or (user is not None and user.id == flt.user_id):
        return flt
    raise NotFound("no such filter")


def owned_filter(conn: sa.Connection, raw_id: str, user: User) -> Filter:
    """The filter if ``user`` owns it; 404 if they cannot see it, 403 if it is someone's public
    one."""
    flt = visible_filter(conn, raw_id, user)
    if flt.user_id != user.id:
        raise Forbidden("only its owner can change this filter; copy it to make your own")
    return flt


def today_stats(conn: sa.Connection, topic: str | None) -> dict[str, Any]:
    """Today's records/bytes produced and rejected for ``topic`` (zeros when none)."""

    out: dict[str, Any] = {"records_produced": 0, "bytes_produced": 0, "records_rejected": 0,
                           "bytes_rejected": 0, "last_record_at": None}
    if topic:
        row = conn.execute(sa.select(ts).where(ts.c.topic == topic,
                                               ts.c.day == utc_today())).first()
        if row is not None:
            out.update({k: row._mapping[k] for k in out})
    return out


def user_bootstrap(settings: Settings) -> str:
    """The Kafka bootstrap server users should connect to."""
    if settings.public_kafka:
        return settings.public_kafka

    try:
        return bootstrap_servers(settings)
    except BrokerError:
        return "HOST:PORT"


def result_table(
    rows: list[dict[str, Any]],
) -> tuple[list[str], list[dict[str, Any]], list[int | None]]:
    """Columns to show (not the hidden key), the rows, and each row's diaObjectId (for links)."""

    columns = [c for c in (rows[0].keys() if rows else []) if c != HIDDEN_KEY]
    ids: list[int | None] = []
    for r in rows:
        try:
            ids.append(row_object_id(r))
        except (TypeError, ValueError):
            ids.append(None)
    return columns, rows, ids
