"""Smaller defects the red team found on the way (issue 15, section 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from click.testing import CliRunner

from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.store.schema import objects, sources


def test_a_filter_with_an_objects_alias_saves_with_kafka_output_and_is_seeded(
        store_url, make_settings, kafka_bootstrap, unique_name, test_data, topic_reader):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url)
    engine = open_store(settings.database_url)
    ingest_files(settings, [test_data / "rubin"], progress=False, engine=engine)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("alias"))
    flt = add_filter(engine, settings, user, name=unique_name("aliased"),
                     sql="SELECT o.diaObjectId, o.ra FROM objects AS o WHERE o.decl < 90",
                     output="plain", trigger="alert")
    with engine.connect() as conn:
        newest = [r[0] for r in conn.execute(sa.select(objects.c.diaObjectId).order_by(
            objects.c.lastDiaSourceMjdTai.desc(), objects.c.diaObjectId))]
    seeds = topic_reader(flt.topic, expect=len(newest))
    assert sorted(int(m.key()) for m in seeds) == sorted(newest)
    assert all(dict(m.headers())["reason"] == b"reset" for m in seeds)
    engine.dispose()


def test_the_object_api_answers_for_absurd_times(store_url, make_settings, unique_name):
    """Stored before the alert checks existed (or edited in the store): a time far outside any
    calendar must not make /api/object/ answer 500."""
    from fastapi.testclient import TestClient

    from skysift.web.app import create_app

    settings = make_settings(database=store_url)
    engine = open_store(settings.database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _, token = add_user(conn, unique_name("absurd"))
        for oid, mjd in ((11, 1e9), (12, -1e9), (13, 1e300)):
            conn.execute(objects.insert().values(diaObjectId=oid, ra=10.0, decl=-10.0,
                                                 nDiaSources=1, firstDiaSourceMjdTai=mjd,
                                                 lastDiaSourceMjdTai=mjd, updated=now))
            payload = {"diaSourceId": oid, "diaObjectId": oid, "midpointMjdTai": mjd,
                       "band": "r", "psfFlux": 1000.0, "psfFluxErr": 10.0, "ra": 10.0,
                       "dec": -10.0}
            conn.execute(sources.insert().values(
                diaSourceId=oid, diaObjectId=oid, midpointMjdTai=mjd, band="r", psfFlux=1000.0,
                psfFluxErr=10.0, ra=10.0, dec=-10.0, payload=json.dumps(payload), ingested=now))
    client = TestClient(create_app(settings, engine))
    for oid in (11, 12, 13):
        r = client.get("/api/object/", params={"objectId": oid, "token": token})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["lasairData"]["discUtc"] is None  # no calendar date for it
        assert body["lasairData"]["discMjd"] == body["lasairData"]["latestMjd"]
    client.close()
    engine.dispose()


def test_filter_run_refuses_a_negative_limit_with_a_usage_error(make_settings, tmp_path):
    from skysift.cli.main import cli

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), "filter", "run",
                                      "whatever", "--limit", "-5"])
    assert result.exit_code == 2
    assert "Invalid value for '--limit': -5 is not in the range x>=1" in result.output
    assert "internal error" not in result.output
