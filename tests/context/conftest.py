"""Fixtures of the context tests: a store (SQLite and PostgreSQL) on the real Kafka broker with
users alice and bob, and a pipeline that takes alerts placed anywhere on the sky."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class CtxWorld:
    settings: Any
    engine: Any
    users: dict[str, Any]
    pipeline: Any

    def ingest(self, alerts):
        report = self.pipeline.process(alerts)
        assert not report.refused and not report.filter_errors, (report.refused,
                                                                  report.filter_errors)
        return report


@pytest.fixture
def ctx_world(make_settings, store_url, kafka_bootstrap):
    from skysift.accounts import add_user
    from skysift.ingest import open_pipeline
    from skysift.store.database import open_store

    settings = make_settings(kafka=kafka_bootstrap, database=store_url)
    engine = open_store(settings.database_url)
    users = {}
    with engine.begin() as conn:
        for name in ("alice", "bob"):
            users[name], _ = add_user(conn, name)
    engine, _producer, pipeline = open_pipeline(settings, engine)
    yield CtxWorld(settings, engine, users, pipeline)
    engine.dispose()
