"""Annotation-triggered filters into real Kafka; annotations that arrive before their object;
the Kafka path for annotators."""

from __future__ import annotations

import json

from annot_world import RUBIN, rubin_alerts

from skysift.annotations.service import submit, trigger
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files


def _reasons(msgs):
    return [(dict(m.headers())["reason"].decode(), json.loads(m.value())) for m in msgs]


def test_annotation_before_alert_then_both_gives_alert_and_annotation_records(world, topic_reader):
    alice, bob = world.users["alice"], world.users["bob"]
    alerts = rubin_alerts()
    target = alerts[0].diaObjectId
    other = next(a.diaObjectId for a in alerts if a.diaObjectId != target)
    # annotated before the store has ever seen the object: kept, and applied when it arrives
    submit(world.engine, [{"topic": "fruitbat", "objectId": target, "classification": "SN",
                           "classdict": {"peak": -20.0}}], user_id=alice.id)
    sql = ("SELECT objects.diaObjectId, fruitbat.classification, "
           "JSON_EXTRACT(fruitbat.classdict, '$.peak') AS peak FROM objects, fruitbat "
           "WHERE fruitbat.classification LIKE 'SN%'")
    on_alert = add_filter(world.engine, world.settings, bob, name="sn alert", sql=sql,
                          trigger="alert")
    both = add_filter(world.engine, world.settings, bob, name="sn both", sql=sql, trigger="both")
    on_ann = add_filter(world.engine, world.settings, bob, name="sn ann", sql=sql,
                        trigger="annotation", output="lite")

    ingest_files(world.settings, [RUBIN], progress=False, engine=world.engine)
    assert _reasons(topic_reader(on_alert.topic, expect=1)) == [
        ("alert", {"diaObjectId": target, "classification": "SN", "peak": -20.0,
                   "UTC": _reasons(topic_reader(on_alert.topic, expect=1))[0][1]["UTC"]})]

    # the new annotation arrives: 'annotation' and 'both' filters run over these objects only
    result = submit(world.engine, [
        {"topic": "fruitbat", "objectId": target, "classification": "SN Ia",
         "classdict": {"peak": -19.5}},
        {"topic": "fruitbat", "objectId": other, "classification": "AGN"}], user_id=alice.id)
    report = trigger(world.engine, world.settings, result.touched())
    assert report.filters_run == 2 and report.records_produced == 2

    got = _reasons(topic_reader(both.topic, expect=2))
    assert [(r, v["classification"], v["peak"]) for r, v in got] == [
        ("alert", "SN", -20.0), ("annotation", "SN Ia", -19.5)]
    assert all(v["diaObjectId"] == target for _, v in got)
    lite = topic_reader(on_ann.topic, expect=1)
    assert len(lite) == 1 and dict(lite[0].headers())["reason"] == b"annotation"
    assert json.loads(lite[0].value())["alert"]["diaSourcesList"]  # light curve from the store
    assert len(topic_reader(on_alert.topic, idle_s=2)) == 1  # alert-only: nothing more


def test_a_filter_on_another_annotator_does_not_run(world, topic_reader):
    bob = world.users["bob"]
    ingest_files(world.settings, [RUBIN], progress=False, engine=world.engine)
    target = rubin_alerts()[0].diaObjectId
    flt = add_filter(world.engine, world.settings, bob, name="cats", trigger="annotation",
                     sql="SELECT objects.diaObjectId FROM objects, bobcat")
    result = submit(world.engine, [{"topic": "fruitbat", "objectId": target,
                                    "classification": "SN"}], user_id=world.users["alice"].id)
    report = trigger(world.engine, world.settings, result.touched())
    assert report.filters_run == 0 and topic_reader(flt.topic, idle_s=2) == []


def test_the_api_triggers_filters_within_seconds(world, live, topic_reader):
    import time

    from lasair import lasair_client

    ingest_files(world.settings, [RUBIN], progress=False, engine=world.engine)
    target = rubin_alerts()[0].diaObjectId
    flt = add_filter(world.engine, world.settings, world.users["bob"], name="api trig",
                     trigger="annotation",
                     sql="SELECT objects.diaObjectId, fruitbat.classification FROM objects, "
                         "fruitbat WHERE fruitbat.classification = 'KN'")
    started = time.monotonic()
    lasair_client(world.tokens["alice"], endpoint=f"{live}/api").annotate(
        "fruitbat", target, "KN")
    msgs = topic_reader(flt.topic, expect=1, max_wait_s=20)
    assert time.monotonic() - started < 20
    assert _reasons(msgs)[0][0] == "annotation" and _reasons(msgs)[0][1]["diaObjectId"] == target


def test_the_kafka_path_stores_triggers_and_dead_letters(world, topic_reader, unique_name):
    from confluent_kafka import Producer

    from skysift.annotations.kafka import ingest_annotations
    from skysift.annotations.store import get_annotations, set_annotator
    from skysift.streams.kafka import producer_config

    ingest_files(world.settings, [RUBIN], progress=False, engine=world.engine)
    target = rubin_alerts()[0].diaObjectId
    with world.engine.begin() as conn:
        set_annotator(conn, "bobcat", active=False)
    flt = add_filter(world.engine, world.settings, world.users["bob"], name="kafka trig",
                     trigger="annotation",
                     sql="SELECT objects.diaObjectId, fruitbat.explanation FROM objects, fruitbat")
    topic = unique_name("ann")
    p = Producer(producer_config(world.settings))
    p.produce(topic, json.dumps({"topic": "fruitbat", "objectId": target,
                                 "classification": "SN", "explanation": "ça 'marche'"}))
    p.produce(topic, b"not json")
    p.produce(topic, json.dumps({"topic": "bobcat", "objectId": target, "classification": "X"}))
    p.produce(topic, json.dumps({"topic": "nosuch", "objectId": target, "classification": "X"}))
    p.flush(10)
    totals = ingest_annotations(world.settings, engine=world.engine, topic=topic,
                                group_id=unique_name("g"), idle_exit_s=3, max_messages=4)
    assert (totals.messages, totals.stored, totals.rejected) == (4, 1, 3)
    with world.engine.connect() as conn:
        assert [a["topic"] for a in get_annotations(conn, target)] == ["fruitbat"]
    dlq = topic_reader(f"{topic}.dlq", expect=3)
    reasons = sorted(dict(m.headers())["skysift.reason"].decode() for m in dlq)
    assert any("not JSON" in r for r in reasons)
    assert any("not active" in r for r in reasons) and any("no annotator" in r for r in reasons)
    out = _reasons(topic_reader(flt.topic, expect=1))
    assert out[0][0] == "annotation" and out[0][1]["explanation"] == "ça 'marche'"
