"""The bridge: gravitational-wave notices into the broker's store, then the filters that follow
them.

:func:`register_notices` registers each LVK notice (skysift.context.gw: the event's row, its
latest map, its hits over the stored objects of its live window), then runs every active filter
that reads ``gw_hits`` or ``gw_events`` over the objects whose hits changed, producing records
with the header ``reason=skymap`` (skysift.filters.trigger). So a kilonova filter hears about
candidates detected before the GW alert the moment the map arrives, and again when it is
refined.

Used by ``skysift gw add`` and by the GCN listener when its ``broker`` section names a store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.context.gw import GwChange, register_notice
from skysift.store.translate import db_errors
from skysift.store.schema import filters
from skysift.filters.trigger import run_skymap_filters
from skysift.streams.kafka import shared_producer
from skysift.streams.output import RecordSink
from skysift.config import load_settings
from skysift.store.database import open_store

if TYPE_CHECKING:  # pragma: no cover
    from skysift.filters.trigger import TriggerReport
    from skysift.skymaps.notice import Notice

__all__ = ["BridgeReport", "StoreBridge", "register_notices"]

log = logging.getLogger(__name__)


@dataclass
class BridgeReport:
    """What registering notices did: one change per notice, and the filters' records."""

    changes: list[GwChange] = field(default_factory=list)
    trigger: TriggerReport | None = None

    @property
    def records_produced(self) -> int:
        return self.trigger.records_produced if self.trigger is not None else 0


def _has_gw_filters(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(filters.c.id).where(
            filters.c.trigger != "none",
            sa.or_(filters.c.sql.ilike("%gw_hits%"), filters.c.sql.ilike("%gw_events%")))
            .limit(1)).first() is not None


def register_notices(engine: sa.Engine, settings: Settings, notices: list[Notice], *,
                     sink: Any = None) -> BridgeReport:
    """Register ``notices`` in order (each in its own transaction), then run the skymap-triggered
    filters once over every object whose hits changed.

    ``sink``: a :class:`~skysift.streams.output.RecordSink`; made from the settings' Kafka when
    a filter has to run and none is given.
    """
    report = BridgeReport()
    changed: set[int] = set()
    for notice in notices:
        with db_errors("register a gravitational-wave notice"), engine.begin() as conn:
            change = register_notice(conn, notice, max_contour=settings.gw_max_contour,
                                     active_days=settings.gw_active_days)
        log.info("gw %s %s: %s (map version %s, %d hits, %d changed)", change.superevent_id,
                 change.alert_type, change.action, change.version, change.hits,
                 len(change.changed))
        report.changes.append(change)
        changed |= change.changed
    if changed and _has_gw_filters(engine):
        if sink is None:
            sink = RecordSink(shared_producer(settings),
                              max_message_bytes=settings.topic_max_message_bytes)
        report.trigger = run_skymap_filters(engine, settings, sink, changed)
    return report


class StoreBridge:
    """The GCN listener's link to the broker: registers each alert it writes in the store.

    A failure here (the store away, an unreadable map) is logged and does not stop the listener
    or change what it wrote to disk; ``skysift gw add`` can register the notice again later.
    """

    def __init__(self, settings: Settings, log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.log = log or logging.getLogger("skysift.gcn")
        self._engine: sa.Engine | None = None

    @classmethod
    def for_gcn(cls, gcn_settings: Any, log: logging.Logger | None = None) -> StoreBridge | None:
        """The bridge the GCN settings ask for (``broker`` section or global flags), or None."""
        data_dir = getattr(gcn_settings, "broker_data_dir", None)
        database = getattr(gcn_settings, "broker_database", None)
        if data_dir is None and database is None:
            return None

        overrides: dict[str, Any] = {}
        if data_dir is not None:
            overrides["data_dir"] = data_dir
        if database is not None:
            overrides["database"] = database
        return cls(load_settings(overrides=overrides), log)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = open_store(self.settings.database_url)
        return self._engine

    def __call__(self, notice: Notice) -> BridgeReport | None:
        try:
            report = register_notices(self.engine, self.settings, [notice])
        except Exception as exc:  # the listener goes on; the log says why
            self.log.error("%s %s: not registered in the broker's store (%s): %s",
                           notice.superevent_id, notice.alert_type, self.settings.database_url
                           if self.settings.database is None else "the configured database", exc)
            return None
        for change in report.changes:
            self.log.info("%s %s: broker store: %s, %d hits%s", change.superevent_id,
                          change.alert_type, change.action, change.hits,
                          f", {report.records_produced} skymap records" if report.trigger else "")
        return report
