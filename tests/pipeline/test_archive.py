"""The alert archive: every ingested alert kept as received, by night, with retention; a store
rebuilt from it equals the store ingest built."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from skysift.alerts.decode import decode_record
from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.alerts.model import AlertOrigin
from skysift.archive import (
    AlertArchive,
    archive_store,
    iter_night,
    list_nights,
    night_of,
    parse_nights,
    prune_nights,
)
from skysift.errors import ArchiveError
from skysift.ingest import ingest_archive, ingest_files
from skysift.store.database import open_store
from skysift.store.schema import objects, sources

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


@pytest.fixture
def settings_for(make_settings, kafka_bootstrap):
    def factory(**more):
        return make_settings(kafka=kafka_bootstrap, **more)

    return factory


def without_images(record: dict) -> str:
    """The record but its cutouts, as text (NaN equals NaN in text, not as floats)."""
    return json.dumps({k: v for k, v in record.items() if k not in CUTOUTS}, sort_keys=True,
                      default=repr)


def rubin_alerts():
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    assert alerts and all(not isinstance(a, Exception) for a in alerts)
    return alerts


@pytest.mark.parametrize("mjd", [60924.0, 60924.33, 60924.4999, 60924.5, 60925.49, 51544.5])
def test_night_is_the_date_at_utc_minus_12h(mjd):
    """Checked against astropy: the calendar date of the UTC time 12 hours earlier (Rubin's
    dayObs; the LSSTCam alerts of tests/data, visits 20250905xxxxx, fall on 2025-09-05)."""
    from astropy.time import Time, TimeDelta

    expect = (Time(mjd, format="mjd", scale="utc") - TimeDelta(0.5, format="jd")).datetime
    assert night_of(mjd) == expect.date().isoformat()


def test_the_real_lsstcam_alerts_fall_on_their_visits_night():
    nights = {night_of(a.diaSource["midpointMjdTai"]) for a in rubin_alerts()
              if 60924 < a.diaSource["midpointMjdTai"] < 60925}
    assert nights == {"2025-09-05"}


def test_parse_nights_refuses_backward_ranges_and_non_dates():
    assert parse_nights("2025-09-04") == ["2025-09-04"]
    with pytest.raises(ArchiveError, match="runs forward"):
        parse_nights("2025-09-05..2025-09-04")
    with pytest.raises(ArchiveError, match="not a night"):
        parse_nights("last-week")


def test_ingest_archives_every_alert_as_received_without_its_cutouts(settings_for):
    settings = settings_for()
    totals = ingest_files(settings, [RUBIN], progress=False)
    assert totals.rejected == 0
    store = archive_store(settings)
    nights = list_nights(store)
    alerts = rubin_alerts()
    by_night: dict[str, int] = {}
    for a in alerts:
        n = night_of(a.diaSource["midpointMjdTai"])
        by_night[n] = by_night.get(n, 0) + 1
    assert {n.night: n.alerts for n in nights} == by_night
    assert sum(n.alerts for n in nights) == totals.ingested
    # each file was closed at the end of the run: it has its summary, with its exact size
    for n in nights:
        for key in n.files:
            summary = json.loads((settings.data_dir / "archive" / (key + ".json")).read_text())
            assert summary["bytes"] == (settings.data_dir / "archive" / key).stat().st_size
    originals = {a.diaSourceId: decode_record(a.raw, AlertOrigin()) for a in alerts}
    seen = 0
    for n in nights:
        for item in iter_night(store, n.night):
            assert not isinstance(item, ArchiveError)
            kept = decode_record(item.record["message"], AlertOrigin())
            original = originals[item.record["diaSourceId"]]
            assert [kept[c] for c in CUTOUTS] == [None, None, None]
            assert any(original[c] for c in CUTOUTS)  # the alert had images
            assert without_images(kept) == without_images(original)
            assert item.record["path"].endswith(".avro")
            seen += 1
    assert seen == len(alerts)


def test_archive_keeps_the_cutouts_byte_for_byte_when_asked(settings_for):
    settings = settings_for(archive_keep_cutouts=True)
    alerts = rubin_alerts()
    archive = AlertArchive(settings)
    archive.write(alerts)
    archive.close()
    raw = {a.diaSourceId: a.raw for a in alerts}
    items = [i for n in list_nights(archive.store) for i in iter_night(archive.store, n.night)]
    assert len(items) == len(alerts)
    assert all(i.record["message"] == raw[i.record["diaSourceId"]] for i in items)


def test_archive_nights_zero_keeps_nothing(settings_for):
    settings = settings_for(archive_nights=0)
    ingest_files(settings, [RUBIN], progress=False)
    assert not (settings.data_dir / "archive").exists()


def _on_night(alert, mjd: float):
    return dataclasses.replace(alert, diaSource={**alert.diaSource, "midpointMjdTai": mjd})


def test_retention_keeps_exactly_the_newest_nights(settings_for):
    settings = settings_for(archive_nights=3)
    alert = rubin_alerts()[0]
    archive = AlertArchive(settings)
    mjds = [60900.7 + d for d in range(6)]  # six nights, one alert each
    for mjd in mjds:
        archive.write([_on_night(alert, mjd)])
    archive.close()
    expect = [night_of(m) for m in mjds][-3:]
    assert [n.night for n in list_nights(archive.store)] == expect
    # the CLI's prune with a smaller number deletes exactly the oldest of those
    assert prune_nights(archive.store, 1) == expect[:2]
    assert [n.night for n in list_nights(archive.store)] == expect[-1:]
    left = sorted(p.name for p in (settings.data_dir / "archive").iterdir())
    assert left == [f"night={expect[-1]}"]  # the folders of deleted nights are gone too


def test_a_torn_file_is_reported_with_its_place_and_the_rest_is_read(settings_for):
    settings = settings_for()
    alerts = rubin_alerts()
    archive = AlertArchive(settings)
    night = night_of(alerts[0].diaSource["midpointMjdTai"])
    same = [a for a in alerts if night_of(a.diaSource["midpointMjdTai"]) == night]
    archive.write(same[:5])
    archive.write(same[5:])  # a second block
    archive.close()
    [key] = list_nights(archive.store)[0].files
    path = settings.data_dir / "archive" / key
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # the last block torn
    items = list(iter_night(archive.store, night))
    good = [i for i in items if not isinstance(i, ArchiveError)]
    bad = [i for i in items if isinstance(i, ArchiveError)]
    assert len(good) == 5 and len(bad) == 1
    assert bad[0].where == {"night": night, "path": key, "record": 5}
    assert "unreadable after 5 records" in bad[0].message


def test_a_store_rebuilt_from_the_archive_equals_the_ingested_one(settings_for, tmp_path):
    settings = settings_for()
    ingest_files(settings, [RUBIN], progress=False)
    nights = [n.night for n in list_nights(archive_store(settings))]
    rebuilt = dataclasses.replace(settings, database=f"sqlite:///{tmp_path / 'rebuilt.db'}")
    totals = ingest_archive(rebuilt, nights, progress=False)
    assert totals.ingested == len(rubin_alerts()) and totals.rejected == 0
    assert sum(n.alerts for n in list_nights(archive_store(settings))) == totals.ingested

    def table(url: str, t: sa.Table, key: str) -> list[dict]:
        engine = open_store(url)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(t).order_by(t.c[key])).mappings()]
        engine.dispose()
        return rows

    for t, key in ((objects, "diaObjectId"), (sources, "diaSourceId")):
        live = table(settings.database_url, t, key)
        again = table(rebuilt.database_url, t, key)
        assert live and len(again) == len(live)
        drop = {"ingested", "updated"}  # when the row was written
        for a, b in zip(again, live, strict=True):
            differ = {k for k in a if k not in drop and json.dumps(a[k], default=repr)
                      != json.dumps(b[k], default=repr)}
            assert differ == set(), (t.name, a[key], {k: (a[k], b[k]) for k in differ})


def test_ingest_from_archive_refuses_nights_it_does_not_hold(settings_for):
    settings = settings_for()
    ingest_files(settings, [RUBIN], progress=False)
    with pytest.raises(ArchiveError, match="holds none of the nights"):
        ingest_archive(settings, ["1999-01-01"], progress=False)


class _FailsFirstFlush:
    """A real producer that reports one record undelivered at its first flush (the broker
    slow once): the batch fails after its store step and is tried again."""

    def __init__(self, inner):
        self.inner, self.failed = inner, False

    def produce(self, *args, **kwargs):
        self.inner.produce(*args, **kwargs)

    def poll(self, timeout=0.0):
        return self.inner.poll(timeout)

    def purge(self, **kwargs):
        self.inner.purge(**kwargs)

    def flush(self, timeout=0.0):
        left = self.inner.flush(timeout)
        if not self.failed:
            self.failed = True
            return 1
        return left


def test_a_batch_tried_again_is_archived_once(settings_for, unique_name):
    from skysift.accounts import add_user
    from skysift.errors import DeliveryError
    from skysift.filters.manage import add_filter
    from skysift.pipeline import Pipeline
    from skysift.streams.kafka import make_producer

    settings = settings_for()
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    add_filter(engine, settings, user, name="all", trigger="alert",
               sql="SELECT objects.diaObjectId FROM objects")
    alerts = [a for a in rubin_alerts() if a.diaObjectId is not None]
    pipeline = Pipeline(settings, engine, _FailsFirstFlush(make_producer(settings)))
    with pytest.raises(DeliveryError):
        pipeline.process(alerts)  # stored, filtered, then the flush fails
    pipeline.sink.discard()
    assert list_nights(archive_store(settings)) == []  # the failed attempt left nothing
    report = pipeline.process(alerts)  # tried again: it goes through
    assert report.seconds["archive"] > 0
    pipeline.close()
    items = [i for n in list_nights(archive_store(settings))
             for i in iter_night(archive_store(settings), n.night)]
    assert sorted(i.record["diaSourceId"] for i in items) == sorted(a.diaSourceId for a in alerts)


def test_several_workers_files_are_read_in_the_order_their_batches_were_stored(settings_for):
    """Two workers, each rolling to a new file after every batch: a night reads as one stream,
    every worker's files in the order it wrote them, the workers merged by batch time."""
    settings = settings_for()
    alerts = rubin_alerts()
    night = night_of(alerts[0].diaSource["midpointMjdTai"])
    same = [a for a in alerts if night_of(a.diaSource["midpointMjdTai"]) == night]
    workers = [AlertArchive(settings), AlertArchive(settings)]
    for w, tag in zip(workers, ("hostA-101", "hostB-202"), strict=True):
        w.tag = tag
        w.batch_prefix = f"{tag}#1"
        w.segment_bytes = 1  # a new file after every batch
    written = []
    for i, a in enumerate(same):
        w = workers[i % 2]
        w.write([a])
        written.append((w.tag, a.diaSourceId))
    for w in workers:
        w.close()
    files = list_nights(workers[0].store)[0].files
    assert len(files) == len(same)  # one file per batch
    got = [(i.batch.split("#")[0], i.record["diaSourceId"]) for i in iter_night(
        workers[0].store, night)]
    assert got == written


def test_an_alert_archived_twice_is_counted_and_stored_once(settings_for, tmp_path):
    from skysift.backtest import backtest
    from skysift.filters.repository import Filter

    settings = settings_for()
    alerts = [a for a in rubin_alerts() if a.diaObjectId is not None]
    archive = AlertArchive(settings)
    archive.write(alerts)
    archive.write(alerts[:3])  # a batch Kafka delivered again after a crash
    archive.close()
    assert sum(n.alerts for n in list_nights(archive.store)) == len(alerts) + 3
    from skysift.accounts import add_user

    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, "someone")
    flt = Filter(id=1, user_id=user.id, user_name=user.name, name="all", description="",
                 sql="SELECT objects.diaObjectId FROM objects", trigger="alert",
                 output="plain", public=False, topic=f"lasair_{user.id}all", byte_quota=-1,
                 created=None, modified=None, last_error=None, last_error_at=None)
    report = backtest(settings, engine, flt, last=30)
    assert report.alerts == len(alerts)
    assert sum(n.duplicates for n in report.nights) == 3
    rebuilt = dataclasses.replace(settings, database=f"sqlite:///{tmp_path / 'r.db'}")
    totals = ingest_archive(rebuilt, [n.night for n in list_nights(archive.store)],
                            progress=False)
    assert totals.ingested == len(alerts) and totals.records_produced == 0
