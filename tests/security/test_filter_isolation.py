"""A filter that fails, in any way, fails alone: recorded on the filter, the others produce.

The bad filters are written straight into the store, as if saved by an older version or edited
in the database: saving them through skysift is refused (test_hostile_filters.py). One of each
kind of failure: too deep to compile (RecursionError before this was fixed), a column that does
not exist (validation at run time), an error while running (SQLite's integer overflow), and a
timeout. The ingest worker starts, prepares, runs every batch, and the good filter gets a record
for every alert.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from outage_tools import publish, topic
from poison_corpus import good_alerts

from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_kafka
from skysift.store.database import open_store
from skysift.store.schema import filters
from skysift.streams.topics import topic_name

GOOD = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"
SLOW = ("SELECT objects.diaObjectId FROM objects WHERE "
        + " + ".join(["flux2mag(objects.ra)"] * 800) + " > 0")
BAD = {
    "deep": ("SELECT objects.diaObjectId, " + "- " * 400 + "objects.ra AS x FROM objects",
             "nests expressions 40"),
    "gone": ("SELECT objects.diaObjectId, objects.no_such_column FROM objects",
             "no_such_column"),
    "overflow": ("SELECT objects.diaObjectId FROM objects WHERE "
                 "abs(-9223372036854775807 - 1) > 0", "integer overflow"),
    "slow": (SLOW, "deadline"),
}


def _end_offset(bootstrap: str, name: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return c.get_watermark_offsets(TopicPartition(name, 0), timeout=10)[1]
    finally:
        c.close()


@pytest.mark.timeout(180)
def test_bad_filters_fail_alone_and_ingest_goes_on(store_url, make_settings, kafka_bootstrap,
                                                   unique_name, topic_reader):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url, filter_timeout_s=0.005,
                             batch_wait_s=0.3, notify_interval_s=0)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    good = add_filter(engine, settings, user, name=unique_name("good"), sql=GOOD,
                      output="plain", trigger="alert")
    names = {kind: unique_name(kind) for kind in BAD}  # topics are shared by the test broker
    now = datetime.now(UTC)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    with engine.begin() as conn:
        for kind, (sql, _) in BAD.items():
            t = topic_name(user.id, names[kind])
            conn.execute(filters.insert().values(
                user_id=user.id, name=names[kind], sql=sql, trigger="alert", output="plain",
                topic=t,
                public=False, byte_quota=-1, created=now, modified=now))
            admin.create_topics([NewTopic(t, 1, -1)])[t].result(10)
    alerts = good_alerts(50, 8_800_000_000)
    source = unique_name("in")
    topic(kafka_bootstrap, source)
    publish(kafka_bootstrap, source, alerts)

    totals = ingest_kafka(settings, [source], group_id=unique_name("g"), idle_exit_s=3,
                          engine=engine)

    assert totals.ingested == 50 and totals.rejected == 0
    keys = collections.Counter(int(m.key()) for m in topic_reader(good.topic, expect=50))
    assert set(keys) == {oid for oid, _ in alerts}, "the good filter got every alert"
    with engine.connect() as conn:
        errors = dict(conn.execute(sa.select(filters.c.name, filters.c.last_error)).all())
    assert errors[good.name] is None
    for kind, (_, why) in BAD.items():
        error = errors[names[kind]]
        assert error and why in error, f"{kind}: {error!r}"
        assert names[kind] in totals.filter_errors
        assert _end_offset(kafka_bootstrap, topic_name(user.id, names[kind])) == 0
    engine.dispose()
