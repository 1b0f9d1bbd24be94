"""cutouts_url = s3://BUCKET/PREFIX: the cutouts go to an S3-compatible bucket, as sent, and the
object page shows them from there.

The S3 peer is moto's standalone server (a real HTTP server speaking the S3 protocol, signatures
checked): no MinIO or Ceph can be installed on these machines. skysift talks to it exactly as to
any S3 service, through boto3 with an endpoint URL.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
KEY_ID, SECRET = "skysift-test-key", "s3cr3t-never-logged-0x5eed"




def _client(endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


def _s3_settings(make_settings, endpoint, url, **more):
    return make_settings(cutouts_url=url, s3_endpoint_url=endpoint, s3_access_key_id=KEY_ID,
                         s3_secret_access_key=SECRET, **more)


def _alerts():
    from skysift.alerts.files import iter_alert_files, read_alerts

    return [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)
            if a.diaObjectId is not None]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cutouts_go_to_the_bucket_as_sent_and_the_object_page_shows_them(
        make_settings, store_url, kafka_bootstrap, s3_endpoint, caplog):
    from fastapi.testclient import TestClient

    from skysift.alerts.decode import decode_record
    from skysift.ingest import ingest_files
    from skysift.store.database import open_store
    from skysift.web.app import create_app

    client = _client(s3_endpoint)
    client.create_bucket(Bucket="cutouts")
    settings = _s3_settings(make_settings, s3_endpoint, "s3://cutouts/night-1",
                            kafka=kafka_bootstrap, database=store_url, keep_cutouts=True)
    engine = open_store(settings.database_url)
    caplog.set_level(logging.DEBUG)
    ingest_files(settings, [RUBIN], progress=False, engine=engine)
    alerts = _alerts()
    listed = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket="cutouts") for o in page.get("Contents", [])]
    assert len(listed) == 3 * len(alerts) and all(k.startswith("night-1/") for k in listed)
    assert not (settings.data_dir / "cutouts").exists()  # nothing on the local disk
    a = max(alerts, key=lambda x: x.diaObjectId)
    sid = a.diaSource["diaSourceId"]
    record = decode_record(a.raw, a.origin)
    for kind, field in (("science", "cutoutScience"), ("template", "cutoutTemplate"),
                        ("difference", "cutoutDifference")):
        key = f"night-1/{a.diaObjectId % 1000:03d}/{a.diaObjectId}/{sid}-{kind}.fits"
        assert client.get_object(Bucket="cutouts", Key=key)["Body"].read() == record[field]
    web = TestClient(create_app(settings, engine))
    page = web.get(f"/objects/{a.diaObjectId}").text
    shown = page.split('id="cutouts"')[1].split("</div>")[0]
    assert [k for k in ("science", "template", "difference")
            if f"/cutouts/{sid}/{k}.png" in shown] == ["science", "template", "difference"]
    png = web.get(f"/objects/{a.diaObjectId}/cutouts/{sid}/template.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert web.get(f"/objects/{a.diaObjectId}/cutouts/{sid + 1}/template.png").status_code == 404
    # the secret key is in no log line, and not in the settings' or the store's repr
    assert SECRET not in caplog.text
    assert SECRET not in repr(settings) and SECRET not in str(settings.redacted())
    assert SECRET not in repr(web.app.state.cutout_store)
    engine.dispose()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_missing_bucket_is_reported_and_ingest_loses_nothing(
        make_settings, store_url, kafka_bootstrap, s3_endpoint, caplog):
    import sqlalchemy as sa

    from skysift.ingest import ingest_files
    from skysift.store.database import open_store

    settings = _s3_settings(make_settings, s3_endpoint, "s3://no-such-bucket",
                            kafka=kafka_bootstrap, database=store_url, keep_cutouts=True)
    engine = open_store(settings.database_url)
    with caplog.at_level(logging.ERROR):
        ingest_files(settings, [RUBIN], progress=False, engine=engine)
    errors = [r.getMessage() for r in caplog.records if "cutouts" in r.getMessage()]
    assert errors and "cannot use the S3 bucket 'no-such-bucket'" in errors[0]
    assert "s3://no-such-bucket" in errors[0]
    alerts = _alerts()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT COUNT(DISTINCT diaObjectId) FROM objects")).scalar()
    assert stored == len({a.diaObjectId for a in alerts})  # the photometry is all there
    engine.dispose()


def test_a_bucket_that_cannot_be_used_is_a_config_error_naming_it_without_the_secret(
        make_settings, s3_endpoint):
    from skysift.errors import ConfigError
    from skysift.store.cutouts import cutout_store

    _client(s3_endpoint).create_bucket(Bucket="guarded")
    settings = _s3_settings(make_settings, s3_endpoint, "s3://guarded-typo/x")
    with pytest.raises(ConfigError) as err:
        cutout_store(settings)
    assert "guarded-typo" in str(err.value) and SECRET not in str(err.value)


def test_blob_keys_cannot_leave_the_folder(tmp_path):
    from skysift.store.blobs import DirStore

    store = DirStore(tmp_path / "blobs")
    for key in ("../escape.fits", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(ValueError, match="bad blob key"):
            store.put_many({key: b"x"})
    assert not (tmp_path / "escape.fits").exists()


def test_unknown_store_url_is_a_config_error(make_settings):
    from skysift.errors import ConfigError
    from skysift.store.cutouts import cutout_store

    with pytest.raises(ConfigError, match=r"unknown store URL 'gs://bucket'"):
        cutout_store(make_settings(cutouts_url="gs://bucket"))
    with pytest.raises(ConfigError, match=r"an S3 URL names a bucket"):
        cutout_store(make_settings(cutouts_url="s3:///prefix"))
