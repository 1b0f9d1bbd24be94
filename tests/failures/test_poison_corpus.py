"""A corpus of good, corrupt and absurd alerts, ingested from Kafka and from files at the default
batch size, on SQLite and PostgreSQL: every good alert stored and its record produced once,
every bad one dead-lettered with a reason naming what is wrong, absurd values stored as NULL, and
the run never stalls."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, Producer, TopicPartition
from poison_corpus import Case, corpus

from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files, ingest_kafka
from skysift.store.database import open_store
from skysift.store.schema import forced_sources, objects, sources

SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"
BAD = ("refused", "undecodable", "poison")


@pytest.fixture
def world(store_url, make_settings, kafka_bootstrap, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url, batch_wait_s=0.5,
                             notify_interval_s=0)
    assert settings.batch_size == 1000  # the default: the whole corpus is one or two batches
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    plain = add_filter(engine, settings, user, name="everything", sql=SQL, output="plain",
                       trigger="alert")
    lite = add_filter(engine, settings, user, name="everything lite", sql=SQL, output="lite",
                      trigger="alert")
    yield settings, engine, plain, lite
    engine.dispose()


def _null_column(engine: sa.Engine, case: Case) -> bool:
    """Whether the column the case names ("table.column[@id offset]") is NULL."""
    spec, _, offset = case.why.partition("@")
    table_name, column = spec.split(".")
    table = {"sources": sources, "forced_sources": forced_sources, "objects": objects}[table_name]
    key = {"sources": "diaSourceId", "forced_sources": "diaForcedSourceId",
           "objects": "diaObjectId"}[table_name]
    row_id = (case.source_id if table_name != "objects" else case.object_id) + int(offset or 0)
    with engine.connect() as conn:
        row = conn.execute(sa.select(table.c[column]).where(table.c[key] == row_id)).first()
    assert row is not None, f"{case.name}: no {table_name} row {row_id}"
    return row[0] is None


def _check_store(engine: sa.Engine, cases: list[Case]) -> None:
    kept = [c for c in cases if c.expect in ("stored", "nulled")]
    with engine.connect() as conn:
        stored_sources = {r[0] for r in conn.execute(sa.select(sources.c.diaSourceId))}
        stored_objects = {r[0] for r in conn.execute(sa.select(objects.c.diaObjectId))}
    for c in kept:
        assert c.source_id in stored_sources, f"{c.name}: not stored"
        assert c.object_id in stored_objects, f"{c.name}: no objects row"
    for c in cases:
        if c.expect in ("refused", "poison") and c.object_id is not None and not c.tags.get("twin"):
            assert c.object_id not in stored_objects, f"{c.name}: stored, should be refused"
    for c in cases:
        if c.expect == "nulled":
            assert _null_column(engine, c), f"{c.name}: {c.why} is not NULL"


def _check_records(topic_reader, topic: str, cases: list[Case]) -> None:
    kept = {c.object_id for c in cases if c.expect in ("stored", "nulled")}
    msgs = topic_reader(topic, expect=len(kept), idle_s=3)
    keys = collections.Counter(int(m.key()) for m in msgs)
    assert set(keys) == kept, "records of exactly the stored alerts"
    assert max(keys.values()) == 1, "no record produced twice"


def _expect_counts(cases: list[Case]) -> dict[str, int]:
    return dict(collections.Counter(c.expect for c in cases if c.expect in BAD))


@pytest.mark.timeout(240)
def test_corpus_from_kafka_stores_the_good_and_dead_letters_the_bad(world, kafka_bootstrap,
                                                                    unique_name, topic_reader):
    settings, engine, plain, lite = world
    cases = corpus(8_100_000_000, copies=6)
    assert len(cases) >= 270 and sum(c.expect in BAD for c in cases) >= 170
    topic, group = unique_name("in"), unique_name("g")
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, -1)])[topic].result(10)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for c in cases:
        p.produce(topic, value=c.data)
    assert p.flush(30) == 0

    totals = ingest_kafka(settings, [topic], group_id=group, idle_exit_s=4, engine=engine)

    bad = [c for c in cases if c.expect in BAD]
    assert totals.ingested == len(cases) - len(bad)
    assert totals.rejected == len(bad)
    assert totals.outcomes == _expect_counts(cases)
    assert totals.nulled >= sum(c.expect == "nulled" and not c.why.startswith("objects")
                                for c in cases)
    letters = topic_reader(f"{topic}.dlq", expect=len(bad), idle_s=3)
    reasons = {int(dict(m.headers())["skysift.source.offset"]): (m.value(), dict(m.headers())[
        "skysift.reason"].decode()) for m in letters}
    assert len(letters) == len(bad), "each bad alert dead-lettered once"
    for offset, c in enumerate(cases):
        if c.expect in BAD:
            value, reason = reasons[offset]
            assert value == c.data, f"{c.name}: the dead letter holds the message unchanged"
            assert c.why in reason, f"{c.name}: reason {reason!r} lacks {c.why!r}"
        else:
            assert offset not in reasons, f"{c.name}: dead-lettered: {reasons[offset][1]}"
    _check_store(engine, cases)
    _check_records(topic_reader, plain.topic, cases)
    _check_records(topic_reader, lite.topic, cases)
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == len(cases)
    finally:
        c.close()
    print(f"kafka: {len(cases) - len(bad)} good stored / {len(cases)} total, {len(bad)} "
          f"dead-lettered ({totals.outcomes}), {totals.nulled} values NULL")


@pytest.mark.timeout(240)
def test_corpus_from_files_stores_the_good_and_dead_letters_the_bad(world, tmp_path, topic_reader):
    settings, engine, plain, _lite = world
    cases = corpus(8_200_000_000, copies=6, with_json=True)
    folder = tmp_path / "night"
    folder.mkdir()
    names = {}
    for i, c in enumerate(cases):
        name = f"{i:04d}-{c.name.replace(' ', '_').replace('#', 'n').replace('*', 'x')}"
        name = "".join(ch for ch in name if ch.isalnum() or ch in "-_.")
        name += ".json" if c.form == "json" else ".avro"
        (folder / name).write_bytes(c.data)
        names[name] = c

    totals = ingest_files(settings, [folder], progress=False, engine=engine)

    bad = [c for c in cases if c.expect in BAD]
    assert totals.ingested == len(cases) - len(bad)
    assert totals.rejected == len(bad)
    assert totals.outcomes == _expect_counts(cases)
    assert totals.failures.get("content", 0) >= 1, "the poison made a batch fail and be split"
    dead = Path(settings.dead_letter_dir)
    notes = {}
    for note in dead.glob("*.reason.json"):
        body = json.loads(note.read_text())
        notes[Path(body["path"]).name] = body["reason"]
    for name, c in names.items():
        if c.expect in BAD:
            assert name in notes, f"{c.name}: not in the dead-letter folder"
            assert c.why in notes[name], f"{c.name}: reason {notes[name]!r} lacks {c.why!r}"
            assert (dead / name).read_bytes() == c.data, f"{c.name}: kept unchanged"
        else:
            assert name not in notes, f"{c.name}: dead-lettered: {notes[name]}"
    _check_store(engine, cases)
    _check_records(topic_reader, plain.topic, cases)
    print(f"files: {len(cases) - len(bad)} good stored / {len(cases)} total, {len(bad)} "
          f"dead-lettered ({totals.outcomes}), {totals.nulled} values NULL, "
          f"failures {totals.failures}")
