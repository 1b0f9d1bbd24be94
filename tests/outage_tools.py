"""Helpers of the outage tests: topics, publishing, stored ids, PostgreSQL refusing connections."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from skysift.store.schema import sources


def topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, -1)])[name].result(10)


def publish(bootstrap: str, topic: str, alerts: list[tuple[int, bytes]]) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for _, data in alerts:
        p.produce(topic, value=data)
    assert p.flush(30) == 0


def stored(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(sources.c.diaSourceId))}


@contextlib.contextmanager
def refused_connections(pg_admin: sa.Engine, url: str):
    """The store's PostgreSQL database refuses every connection (and drops the open ones)."""
    name = url.rsplit("/", 1)[1]
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :n"), {"n": name})
    try:
        yield
    finally:
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
