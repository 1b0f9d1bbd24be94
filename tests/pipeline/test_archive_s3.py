"""archive_url = s3://BUCKET/PREFIX: archive files are written in the local spool, uploaded with
their summaries when closed, listed, pruned and read (backtest) from the bucket.

The S3 peer is moto's standalone server (a real HTTP server speaking the S3 protocol), as for
the cutouts (tests/web/test_cutouts_s3.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skysift.accounts import add_user
import os

from skysift.archive import archive_store, list_nights, night_of, prune_nights
from skysift.backtest import backtest
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
KEY_ID, SECRET = "skysift-archive-key", "archive-s3cr3t-0xfeed"




def test_the_archive_goes_to_the_bucket_and_backtests_read_it_there(make_settings,
                                                                     kafka_bootstrap,
                                                                     s3_endpoint, unique_name):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    client.create_bucket(Bucket="alerts")
    settings = make_settings(kafka=kafka_bootstrap, archive_url="s3://alerts/lsst",
                             s3_endpoint_url=s3_endpoint, s3_access_key_id=KEY_ID,
                             s3_secret_access_key=SECRET)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    flt = add_filter(engine, settings, user, name="all", output="plain", trigger="alert",
                     sql="SELECT objects.diaObjectId FROM objects")
    totals = ingest_files(settings, [RUBIN], progress=False, engine=engine)

    keys = sorted(o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket="alerts") for o in page.get("Contents", []))
    assert keys and all(k.startswith("lsst/night=") for k in keys)
    avro = [k for k in keys if k.endswith(".avro")]
    assert sorted(k + ".json" for k in avro) == [k for k in keys if k.endswith(".json")]
    assert not any((settings.data_dir / "archive-spool").rglob("*.avro"))  # uploaded, freed
    assert not (settings.data_dir / "archive").exists()

    store = archive_store(settings)
    nights = list_nights(store)
    assert sum(n.alerts for n in nights) == totals.ingested
    report = backtest(settings, engine, flt, last=30)
    assert report.records == totals.per_topic[flt.topic] and report.problems == []

    assert prune_nights(store, 1) == [n.night for n in nights[:-1]]
    left = [o["Key"] for o in client.list_objects_v2(Bucket="alerts").get("Contents", [])]
    assert left and all(f"night={nights[-1].night}/" in k for k in left)


def test_a_file_left_in_the_spool_by_a_dead_worker_is_salvaged_and_uploaded(make_settings,
                                                                             s3_endpoint):
    import boto3

    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.archive import AlertArchive, iter_night

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    client.create_bucket(Bucket="spooled")
    settings = make_settings(archive_url="s3://spooled", s3_endpoint_url=s3_endpoint,
                             s3_access_key_id=KEY_ID, s3_secret_access_key=SECRET)
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    dead = AlertArchive(settings)
    dead.write(alerts[:4])
    dead.write(alerts[4:])  # two blocks per night file, then the worker "dies": no close
    spool = settings.data_dir / "archive-spool"
    [first, *_] = sorted(spool.rglob("*.avro"))
    data = first.read_bytes()
    first.write_bytes(data[:-10])  # and its last block was torn in the crash
    for path in spool.rglob("*.avro"):  # as named by a process that is gone
        path.rename(path.with_name(path.name.replace(f"-{os.getpid()}-",
                                                     "-999999999-")))
    for seg in dead._open.values():
        seg.file.close()
    AlertArchive(settings)  # the next worker to start sweeps the spool
    assert not list(spool.rglob("*.avro"))
    nights = list_nights(archive_store(settings))
    kept = [i for n in nights for i in iter_night(archive_store(settings), n.night)]
    torn_night = first.parent.name.removeprefix("night=")
    in_torn = sum(1 for a in alerts[4:]
                  if night_of(a.diaSource["midpointMjdTai"]) == torn_night)
    # everything but the torn file's last block (the second batch's alerts of that night)
    assert len(kept) == len(alerts) - in_torn
    assert all(not isinstance(i, Exception) for i in kept)
