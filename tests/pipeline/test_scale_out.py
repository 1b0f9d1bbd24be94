"""Two ingest workers in one consumer group, a two-partition topic, one PostgreSQL store: alerts of
the same objects arrive on both partitions at once, and every object's row equals a serial
ingest of the same alerts; every alert is ingested once and every record produced reaches the
filter's topic (at-least-once: an alert may be ingested twice only after a failure, and none
happens here)."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import sqlalchemy as sa
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from rubin_alerts import grown_light_curves

from skysift.accounts import add_user
from skysift.alerts.decode import decode_message
from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.alerts.model import AlertOrigin
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_kafka
from skysift.store.database import open_store
from skysift.features.update import store_alerts
from skysift.store.schema import objects

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
SQL = "SELECT objects.diaObjectId, objects.nDiaSources FROM objects WHERE objects.nDiaSources > 0"


def _wire(alert, template: dict, schema_id: int) -> bytes:
    rec = copy.deepcopy(template)
    rec.update(diaSourceId=alert.diaSourceId, diaSource=alert.diaSource,
               prvDiaSources=alert.prvDiaSources, prvDiaForcedSources=alert.prvDiaForcedSources,
               diaObject=alert.diaObject)
    return encode_wire(rec, schema_id // 100, schema_id % 100)


def _rows(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(objects)).mappings().all()
    return {r["diaObjectId"]: {k: v for k, v in r.items() if k != "updated"} for r in rows}


def test_two_workers_on_two_partitions_equal_a_serial_ingest(
        make_settings, kafka_bootstrap, pg_url, tmp_path, unique_name, topic_reader):
    template, schema_id = load_wire_record(next(iter(sorted(RUBIN.glob("*.avro")))))
    template = {k: v for k, v in template.items() if not k.startswith("cutout")}
    alerts = grown_light_curves(8, 6, seed=31, history=30)
    # a triggering diaSource must have a flux: give one to those without, in every copy
    no_flux = {a.diaSource["diaSourceId"] for a in alerts if a.diaSource["psfFlux"] is None}
    for a in alerts:
        for s in (a.diaSource, *a.prvDiaSources):
            if s["diaSourceId"] in no_flux:
                s["psfFlux"] = 1500.0
    by_object: dict[int, list] = {}
    for a in alerts:
        by_object.setdefault(a.diaObjectId, []).append(a)
    parts: list[list] = [[], []]
    for series in by_object.values():
        series.sort(key=lambda a: a.diaSource["midpointMjdTai"])
        for k, a in enumerate(series):
            # alternate partitions; each alert's history lacks the one just before it, which
            # the other worker may be storing at the same moment
            a = copy.deepcopy(a)
            if k:
                prev = series[k - 1].diaSource["diaSourceId"]
                a.prvDiaSources = [s for s in a.prvDiaSources if s["diaSourceId"] != prev]
            parts[k % 2].append(a)

    settings = make_settings(kafka=kafka_bootstrap, database=pg_url, batch_size=8,
                             batch_wait_s=0.2)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    flt = add_filter(engine, settings, user, name=unique_name("all"), sql=SQL, output="plain",
                     trigger="alert")
    topic = unique_name("in")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 2, -1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    wire = [[_wire(a, template, schema_id) for a in batch] for batch in parts]
    for partition, values in enumerate(wire):
        for value in values:
            producer.produce(topic, value=value, partition=partition)
    assert producer.flush(10) == 0

    group = unique_name("g")
    totals: list = []
    workers = [threading.Thread(target=lambda: totals.append(ingest_kafka(
        settings, [topic], group_id=group, idle_exit_s=6, engine=open_store(pg_url))))
        for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert len(totals) == 2
    assert sum(t.ingested for t in totals) == len(alerts)
    assert sum(t.rejected for t in totals) == 0
    assert all(t.ingested > 0 for t in totals), totals  # both workers had a partition

    serial = open_store(f"sqlite:///{tmp_path / 'serial.db'}")
    try:
        for values in wire:  # as the workers read them (Avro floats are 32-bit)
            with serial.begin() as conn:
                store_alerts(conn, [decode_message(v, AlertOrigin(), full=True) for v in values])
        got, want = _rows(engine), _rows(serial)
        assert got.keys() == want.keys() == by_object.keys()
        for oid in want:
            assert got[oid] == want[oid], oid
    finally:
        serial.dispose()
        engine.dispose()
    # one record per object and batch that held it: all produced, every object heard of
    produced = sum(t.records_produced for t in totals)
    records = topic_reader(flt.topic, expect=produced)
    assert len(records) == produced
    assert {json.loads(m.value())["diaObjectId"] for m in records} == by_object.keys()
