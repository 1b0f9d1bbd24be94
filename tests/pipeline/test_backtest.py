"""Backtest and replay over the archive equal what the live pipeline produced for the same
alerts and filters; a flooding filter is flagged; a corrupt archived alert is reported and the
run goes on."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest

from skysift.accounts import add_user
from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.archive import AlertArchive, archive_store, iter_night, list_nights, night_of
from skysift.backtest import backtest, flood_check, replay
from skysift.errors import ArchiveError, FilterError
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.streams.kafka import make_admin, make_producer
from skysift.streams.topics import ensure_topics

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"

BRIGHT = ("SELECT objects.diaObjectId, objects.ra, objects.decl, "
          "flux2mag(objects.latest_psfFlux) AS mag FROM objects "
          "WHERE objects.latest_psfFlux > 3000")
RELIABLE = ("SELECT objects.diaObjectId, objects.nDiaSources FROM objects "
            "WHERE objects.latestR > 0.3")
EVERYTHING = "SELECT objects.diaObjectId FROM objects"
NOTHING = "SELECT objects.diaObjectId FROM objects WHERE objects.nDiaSources > 100000"


def rubin_alerts():
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    assert alerts and all(not isinstance(a, Exception) for a in alerts)
    return alerts


@pytest.fixture
def live(make_settings, kafka_bootstrap, store_url, unique_name):
    """A store that ingested the real alerts in batches of 2 with two active filters (one
    plain, one lite), so the archive holds several live batches of several nights."""
    settings = make_settings(kafka=kafka_bootstrap, database=store_url, batch_size=2)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    bright = add_filter(engine, settings, user, name="bright", sql=BRIGHT, output="plain",
                        trigger="alert")
    reliable = add_filter(engine, settings, user, name="reliable", sql=RELIABLE,
                          output="lite", trigger="alert")
    totals = ingest_files(settings, [RUBIN], progress=False, engine=engine)
    assert totals.rejected == 0 and totals.batches >= 3
    yield settings, engine, user, {"bright": bright, "reliable": reliable}, totals
    engine.dispose()


def night_of_source(alerts) -> dict[int, str]:
    return {a.diaSourceId: night_of(a.diaSource["midpointMjdTai"]) for a in alerts}


def without_utc(value: bytes) -> dict:
    record = json.loads(value)
    record.pop("UTC")
    return record


def test_backtest_counts_equal_what_the_live_pipeline_produced(live, topic_reader):
    settings, engine, _user, filters, totals = live
    nights = night_of_source(rubin_alerts())
    for name, flt in filters.items():
        produced = topic_reader(flt.topic, expect=totals.per_topic[flt.topic])
        assert len(produced) == totals.per_topic[flt.topic] > 0, name
        per_night = Counter(nights[int(dict(m.headers())["diaSourceId"])] for m in produced)
        report = backtest(settings, engine, flt, last=30)
        assert {n.night: n.records for n in report.nights if n.records} == dict(per_night)
        assert report.records == len(produced)
        assert report.alerts == totals.ingested
        assert report.bytes == sum(len(m.value()) for m in produced)
        keys = {int(m.key()) for m in produced}
        for n in report.nights:
            assert set(n.first) <= keys and len(n.first) == len(set(n.first)) <= 5
            assert len(n.filter_s) == n.batches and n.batches >= 1
            assert 0 < n.seconds_quantile(0.5) <= n.seconds_quantile(0.99)
        assert report.problems == []


def test_an_edited_unsaved_filter_is_backtested_as_edited(live):
    settings, engine, _user, filters, totals = live
    flt = filters["bright"]
    edited = dataclasses.replace(flt, sql=EVERYTHING)
    report = backtest(settings, engine, edited, last=30)
    assert report.alerts == totals.ingested
    # every object of every live batch is a record: count (batch, object) pairs in the archive
    store = archive_store(settings)
    pairs = {(i.batch, i.record["diaObjectId"]) for n in list_nights(store)
             for i in iter_night(store, n.night) if i.record["diaObjectId"] is not None}
    assert report.records == len(pairs) > 0
    with pytest.raises(FilterError, match=r"objects\.nosuch"):
        backtest(settings, engine, dataclasses.replace(flt, sql=EVERYTHING.replace(
            "objects.diaObjectId", "objects.nosuch")), last=30)


def test_replay_produces_the_live_records_into_a_topic_with_reason_replay(live, topic_reader,
                                                                          unique_name):
    settings, engine, _user, filters, totals = live
    flt = filters["reliable"]
    live_records = topic_reader(flt.topic, expect=totals.per_topic[flt.topic])
    target = f"{flt.topic}-replay-{unique_name('r')}"
    ensure_topics(make_admin(settings), settings, {target})
    producer = make_producer(settings)
    nights = [n.night for n in list_nights(archive_store(settings))]
    report = replay(settings, engine, flt, producer, topic=target, nights=nights)
    producer.flush(10)
    replayed = topic_reader(target, expect=len(live_records))
    assert report.records == len(replayed) == len(live_records)
    assert all(dict(m.headers())["reason"] == b"replay" for m in replayed)
    assert all(dict(m.headers())["reason"] == b"alert" for m in live_records)

    def comparable(messages):
        return sorted((m.key(), json.dumps(without_utc(m.value()), sort_keys=True),
                       dict(m.headers())["diaSourceId"]) for m in messages)

    assert comparable(replayed) == comparable(live_records)
    # in time order: the nights of the replayed records never go back
    by_source = night_of_source(rubin_alerts())
    order = [by_source[int(dict(m.headers())["diaSourceId"])] for m in replayed]
    assert order == sorted(order)


def test_a_filter_that_would_flood_is_flagged_when_saved_active(live):
    settings, engine, user, _filters, _totals = live
    flooding = add_filter(engine, settings, user, name="everything", sql=EVERYTHING,
                          output="plain", trigger="alert")
    warning = flood_check(settings, engine, flooding)
    newest = list_nights(archive_store(settings))[-1]
    assert warning is not None
    assert f"over the archived night {newest.night}" in warning
    assert f"matched {newest.alerts} of {newest.alerts} alerts (100.0%; the limit is 5.0%)" \
        in warning
    quiet = add_filter(engine, settings, user, name="nothing", sql=NOTHING, output="plain",
                       trigger="alert")
    assert flood_check(settings, engine, quiet) is None
    tiny = dataclasses.replace(quiet, sql=EVERYTHING, byte_quota=10)
    assert "over its daily quota of 10" in (flood_check(
        dataclasses.replace(settings, max_match_fraction=1.0), engine, tiny) or "")
    assert flood_check(settings, engine, dataclasses.replace(flooding, trigger="none")) is None


def test_a_corrupt_archived_alert_is_reported_and_the_run_goes_on(live, tmp_path, topic_reader):
    settings, engine, _user, filters, _totals = live
    alerts = [a for a in rubin_alerts() if a.diaObjectId is not None]
    good = dataclasses.replace(settings, data_dir=tmp_path / "good")
    bad = dataclasses.replace(settings, data_dir=tmp_path / "bad")
    for where, damaged in ((good, None), (bad, 3)):
        archive = AlertArchive(where)
        batch = [dataclasses.replace(a, raw=a.raw[:60], cutout_spans=()) if i == damaged else a
                 for i, a in enumerate(alerts)]
        archive.write(batch)
        archive.close()
    flt = dataclasses.replace(filters["bright"], sql=EVERYTHING)
    whole = backtest(good, engine, flt, last=30)
    broken = backtest(bad, engine, flt, last=30)
    [problem] = broken.problems
    night = night_of(alerts[3].diaSource["midpointMjdTai"])
    assert f"archived alert {alerts[3].diaSourceId} cannot be decoded" in problem
    assert f"night={night}" in problem and "record=" in problem
    assert broken.alerts == whole.alerts - 1
    assert broken.records == whole.records - 1
    # a replay of the same nights says the same and produces every other record
    target = f"{flt.topic}.{tmp_path.name[-20:]}"
    ensure_topics(make_admin(settings), settings, {target})
    producer = make_producer(settings)
    replayed = replay(bad, engine, flt, producer, topic=target, last=30)
    producer.flush(10)
    assert replayed.problems == broken.problems
    assert replayed.records == broken.records
    assert len(topic_reader(target, expect=broken.records)) == broken.records
    with pytest.raises(ArchiveError, match="holds none of the nights"):
        backtest(good, engine, flt, nights=["1999-01-01"])


def test_a_replay_keeps_to_the_filters_byte_quota_and_counts_against_it(live, topic_reader,
                                                                       unique_name):
    import sqlalchemy as sa

    from skysift.store.schema import topic_stats
    from skysift.streams.output import utc_today

    settings, engine, _user, filters, totals = live
    flt = filters["bright"]
    live_records = topic_reader(flt.topic, expect=totals.per_topic[flt.topic])
    sizes = sorted(len(m.value()) for m in live_records)
    with engine.connect() as conn:
        used = conn.execute(sa.select(topic_stats.c.bytes_produced).where(
            topic_stats.c.topic == flt.topic, topic_stats.c.day == utc_today())).scalar_one()
    assert used == sum(sizes)  # what ingest produced live today
    # room for exactly one more record of the largest size, whichever topic the replay fills
    quota = used + sizes[-1]
    target = f"{flt.topic}.{unique_name('q')}"
    ensure_topics(make_admin(settings), settings, {target})
    producer = make_producer(settings)
    capped = dataclasses.replace(flt, byte_quota=quota)
    report = replay(settings, engine, capped, producer, topic=target, last=30)
    producer.flush(10)
    assert report.records == 1 and sum(n.rejected for n in report.nights) == len(sizes) - 1
    assert len(topic_reader(target, expect=1)) == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(topic_stats).where(
            topic_stats.c.topic == flt.topic, topic_stats.c.day == utc_today())).one()
    assert row.bytes_produced == used + report.bytes and row.bytes_produced <= quota
    again = replay(settings, engine, capped, producer, topic=target, last=30)
    assert again.records == 0  # the day's quota is spent


def test_the_first_matches_are_the_first_objects_live_produced_each_night(live, topic_reader):
    settings, engine, _user, filters, totals = live
    nights = night_of_source(rubin_alerts())
    flt = filters["reliable"]
    produced = topic_reader(flt.topic, expect=totals.per_topic[flt.topic])
    first: dict[str, list[int]] = {}
    for m in produced:  # in the order live produced them (one partition)
        night = nights[int(dict(m.headers())["diaSourceId"])]
        keys = first.setdefault(night, [])
        if int(m.key()) not in keys and len(keys) < 5:
            keys.append(int(m.key()))
    report = backtest(settings, engine, flt, last=30)
    assert {n.night: n.first for n in report.nights if n.first} == first
