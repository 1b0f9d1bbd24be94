"""Filters written against Lasair-LSST's light-curve columns run on both stores and in the batch
engine, and pick the objects whose light curves have those features."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from rubin_alerts import grown_light_curves

from skysift.alerts.model import Alert
from skysift.features.compute import FEATURE_COLUMNS
from skysift.filters.batch import BatchEngine
from skysift.filters.manage import catalogue, run_filter
from skysift.features.update import store_alerts

T0 = 60950.0
JUMP_AND_PAIR = ("SELECT objects.diaObjectId, objects.jump1, objects.latestPairColourBands "
                 "FROM objects WHERE objects.jump1 > 5 AND objects.latestPairColourBands = 'g-r' "
                 "AND objects.latestPairColourTemp > 5")
NIGHTS = "SELECT diaObjectId FROM objects WHERE nPosDiaSourcesNights >= 3 AND nSourcesGood >= 20"
HTM = "SELECT diaObjectId, htm16 FROM objects WHERE htm16 IS NOT NULL"


def _object(template: Alert, oid: int, fluxes) -> Alert:
    """An alert of object ``oid`` whose history is ``fluxes``: (mjd, band, psfFlux) triples."""
    srcs = []
    for i, (mjd, band, flux) in enumerate(fluxes):
        s = copy.deepcopy(template.diaSource)
        s.update(diaSourceId=oid * 1000 + i, diaObjectId=oid, midpointMjdTai=mjd, band=band,
                 psfFlux=flux, psfFluxErr=50.0, reliability=0.9)
        srcs.append(s)
    obj = copy.deepcopy(template.diaObject)
    obj.update(diaObjectId=oid, validityStartMjdTai=fluxes[-1][0])
    return Alert(diaSourceId=srcs[-1]["diaSourceId"], diaObjectId=oid, diaSource=srcs[-1],
                 prvDiaSources=srcs[:-1], prvDiaForcedSources=[], diaObject=obj,
                 schema_version="9.0")


@pytest.fixture
def stored(engine):
    template = grown_light_curves(1, 1, seed=3, history=0)[0]
    rng = np.random.default_rng(1)
    steady = [(T0 - 60 + 2 * k, "r", 1000.0 + float(rng.normal(0, 20))) for k in range(25)]
    # A: steady in r for 50 days, then a g-r pair, r 400 sigma up: a jump and a hot colour
    # (f_g / f_r = 1.22: ~20 kK; a ratio above (0.62 / 0.50)^2 = 1.54 has no blackbody)
    a = _object(template, 1, [*steady, (T0, "r", 9000.0), (T0 + 0.01, "g", 11000.0)])
    # B: the same history with no jump (its pair is red)
    b = _object(template, 2, [*steady, (T0, "r", 1000.0), (T0 + 0.01, "g", 600.0)])
    # C: a steady object with no pair at all
    c = _object(template, 3, steady)
    with engine.begin() as conn:
        result = store_alerts(conn, [a, b, c])
    return result


def test_lasair_feature_filters_run_on_the_store(engine, stored, make_settings):
    settings = make_settings()
    with engine.connect() as conn:
        rows = run_filter(conn, settings, JUMP_AND_PAIR).rows
        assert [r["diaObjectId"] for r in rows] == [1]
        assert rows[0]["latestPairColourBands"] == "g-r"
        assert rows[0]["jump1"] == pytest.approx(stored.rows[1]["jump1"])
        assert rows[0]["jump1"] > 300
        assert sorted(r["diaObjectId"] for r in run_filter(conn, settings, NIGHTS).rows) == [
            1,
            2,
            3,
        ]
        htm = {r["diaObjectId"]: r["htm16"] for r in run_filter(conn, settings, HTM).rows}
    assert htm == {oid: stored.rows[oid]["htm16"] for oid in (1, 2, 3)}
    assert all(8 * 4**16 <= h < 16 * 4**16 for h in htm.values())


def test_lasair_feature_filters_run_in_the_batch_engine(stored):
    batch = BatchEngine(catalogue())
    try:
        batch.load("objects",
                   [{k: stored.rows[oid][k] for k in FEATURE_COLUMNS} for oid in (1, 2, 3)])
        result = batch.run(JUMP_AND_PAIR, timeout_s=5.0, row_cap=10)
        assert [r["diaObjectId"] for r in result.rows] == [1]
    finally:
        batch.close()
