"""Backtest and replay from the web site and the API: the nights asked for, the filter as edited,
where a replay may write, and the replay's producer (:mod:`skysift.backtest` does the work).

- **Nights**: the newest ``nights`` archived nights (:data:`DEFAULT_NIGHTS` unless told), or
  ``from``..``to`` (``YYYY-MM-DD``, both included, at most :data:`MAX_NIGHTS` nights).
- **An edited filter**: the SQL in the editor, not saved, is validated as a save validates it
  (for the filter's owner) and tried in place of the saved SQL.
- **Where a replay writes**: the filter's own topic, or a topic named after it,
  ``<its topic>.<name>`` (topics are unique, so that name space is the filter owner's; a prefix
  ``lasair_<owner id>`` would not be: ``lasair_1`` begins user 10's topics too), that is not
  another user's filter's topic nor an input topic. The topic is made when the broker does not
  have it.
- **After a save**: :func:`saved_warning`, the flood check of :mod:`skysift.backtest` (the CLI's
  too); a check that cannot be made is logged, since the filter is saved by then.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa

from skysift.archive import parse_nights
from skysift.backtest import BacktestReport, NightResult, flood_check, replay
from skysift.config import Settings
from skysift.errors import BadInput, Forbidden, SkysiftError
from skysift.filters.repository import OUTPUTS, Filter
from skysift.filters.sandbox import validate_for_user
from skysift.store.schema import filters as filters_table
from skysift.streams.kafka import make_producer, shared_admin
from skysift.streams.topics import MAX_TOPIC_LENGTH, ensure_topics

__all__ = ["DEFAULT_NIGHTS", "FLUSH_S", "MAX_NIGHTS", "edited_filter", "night_range",
           "replay_into", "replay_topic", "saved_warning", "unsaved_filter"]

log = logging.getLogger(__name__)

#: Nights a backtest runs over unless told (the newest archived ones).
DEFAULT_NIGHTS = 7
#: The most nights one backtest or replay may ask for.
MAX_NIGHTS = 366
#: How long a replay waits for Kafka to confirm its records.
FLUSH_S = 30.0
_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{name} must be a date, YYYY-MM-DD, not {text.strip()[:30]!r}",
                       field=name) from None


def night_range(first: str, last: str) -> list[str]:
    """The nights from ``first`` to ``last`` (``YYYY-MM-DD``, both included).

    >>> night_range("2025-09-04", "2025-09-06")
    ['2025-09-04', '2025-09-05', '2025-09-06']
    """
    a, b = _date(first, "from"), _date(last, "to")
    if b < a:
        raise BadInput(f"to ({b}) is before from ({a})", field="to")
    if (b - a).days >= MAX_NIGHTS:
        raise BadInput(f"at most {MAX_NIGHTS} nights at once, not {(b - a).days + 1}",
                       field="to")
    return parse_nights(f"{a}..{b}")


def edited_filter(engine: sa.Engine, flt: Filter, *, sql: str | None = None,
                  output: str | None = None) -> Filter:
    """``flt`` with the SQL and output of an edit not saved, the SQL validated as a save
    validates it (FilterError, a 400, naming what is wrong)."""
    if output is not None and output not in OUTPUTS:
        raise BadInput(f"output must be one of {', '.join(OUTPUTS)}", field="output")
    if sql is not None:
        validate_for_user(sql, flt.name, flt.user_id, engine=engine)
    return dataclasses.replace(flt, sql=flt.sql if sql is None else sql,
                               output=flt.output if output is None else output)


def unsaved_filter(engine: sa.Engine, settings: Settings, user: Any, *, name: str, sql: str,
                   output: str) -> Filter:
    """A filter of ``user`` that exists only in the editor (a backtest before the first save)."""
    flt = Filter(id=0, user_id=user.id, user_name=user.name, name=name or "new filter",
                 description="", sql=sql, trigger="alert", output="plain", public=False,
                 topic=None, byte_quota=settings.daily_byte_quota, created=None, modified=None,
                 last_error=None, last_error_at=None)
    return edited_filter(engine, flt, sql=sql, output=output)


def replay_topic(conn: sa.Connection, settings: Settings, flt: Filter,
                 topic: str | None) -> str | None:
    """The topic a replay of ``flt`` may write as asked (None: the filter's own).

    Raises
    ------
    BadInput
        Not a valid Kafka topic name.
    Forbidden
        Not a topic of the filter's owner (the message says which ones are).
    """
    if topic is None or topic == flt.topic:
        return topic
    if not topic or len(topic) > MAX_TOPIC_LENGTH or not set(topic) <= _TOPIC_CHARS:
        raise BadInput(f"topic must be at most {MAX_TOPIC_LENGTH} of the characters "
                       "A-Z a-z 0-9 . _ -", field="topic")
    # A filter topic is unique, so names that extend it after a dot belong to its owner;
    # ``lasair_<id>`` alone would not do: lasair_1 is also the start of user 10's topics.
    mine = f"{flt.topic}." if flt.topic else None
    yours = (f"a replay writes only into the filter's own topic ({flt.topic}) or a topic named "
             f"after it, {flt.topic}.<name>")
    if mine is None or not topic.startswith(mine) or topic == mine:
        raise Forbidden(f"{topic} is not a topic of this filter's: {yours}")
    if topic in (settings.input_topic, settings.annotations_topic):
        raise Forbidden(f"{topic} is an input topic of this broker: {yours}")
    owner = conn.execute(sa.select(filters_table.c.user_id)
                         .where(filters_table.c.topic == topic)).first()
    if owner is not None and int(owner[0]) != int(flt.user_id):
        raise Forbidden(f"{topic} is another user's filter's topic: {yours}")
    return topic


def replay_into(settings: Settings, engine: sa.Engine, flt: Filter, *, nights: list[str],
                topic: str | None,
                on_batch: Callable[[NightResult], None] | None = None,
                ) -> tuple[BacktestReport, int]:
    """Replay ``flt`` over ``nights`` into ``topic`` (checked by :func:`replay_topic`; None:
    its own), the topic made if missing; the report, and the records Kafka had not confirmed
    after :data:`FLUSH_S` seconds. ``on_batch`` follows the run (:func:`skysift.backtest.
    run_archive`; :mod:`skysift.web.jobs` shows it as a progress bar)."""
    target = topic or (None if flt.output == "email" else flt.topic)
    if target:
        ensure_topics(shared_admin(settings), settings, {target})
    producer = make_producer(settings)
    left = 0
    try:
        report = replay(settings, engine, flt, producer, topic=topic, nights=nights,
                        on_batch=on_batch)
    finally:
        try:  # what a failed replay queued is given its time too; its error is the one raised
            left = int(producer.flush(FLUSH_S))
        except Exception as exc:  # never hide the replay's own error
            log.warning("flushing the replay's producer failed: %s", exc)
        close = getattr(producer, "close", None)  # confluent-kafka >= 2.13: free its threads
        if close is not None:
            close()
    return report, left


def saved_warning(settings: Settings, engine: sa.Engine, flt: Filter) -> str | None:
    """The flood warning of a filter just saved (:func:`skysift.backtest.flood_check`: active,
    and its backtest over the newest archived night matched too much), or None. The filter is
    saved by then, so a check that fails is logged and the save answered as usual."""
    try:
        return flood_check(settings, engine, flt)
    except (SkysiftError, sa.exc.SQLAlchemyError) as exc:
        log.warning("filter %s was saved, but its flood check failed: %s", flt.name, exc)
        return None
