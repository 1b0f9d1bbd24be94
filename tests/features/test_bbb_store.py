"""The warm start of the Bazin-blackbody fit through the store: each object's stored fit is
where its next fit starts (setting ``bbb_warm_start``), and the columns are those of a fit from
the guesses, to the precision the data give."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from rubin_alerts import grown_light_curves

from skysift.features import SourceArrays
from skysift.features.bbb import fit_bbb
from skysift.features.update import store_alerts
from skysift.store.database import open_store

WL = {"u": 0.380, "g": 0.500, "r": 0.620, "i": 0.740, "z": 0.880, "y": 1.000}  # Lasair's, micron
HC_K = 14387.7688 / 1000  # hc/k in micron kK


def bazin(t, wl, a, t_kk, t0, kr, kf):
    planck = wl**-3.0 / np.expm1(HC_K / (wl * t_kk))
    return a * planck * np.exp(-kf * (t - t0)) / (1 + np.exp(-kr * (t - t0)))


@pytest.fixture
def engine(store_url):
    eng = open_store(store_url)
    yield eng
    eng.dispose()


def bazin_alerts(n_objects: int, n_alerts: int):
    """Alerts of objects whose every diaSource follows a Bazin-blackbody curve (2% noise)."""
    alerts = grown_light_curves(n_objects, n_alerts, seed=14, history=n_alerts)
    rng = np.random.default_rng(14)
    start = min(a.diaSource["midpointMjdTai"] for a in alerts)
    scale = 20_000.0 / bazin(np.array([40.0]), WL["g"], 1.0, 12.0, 30.0, 0.3, 0.03)[0]
    noise: dict[int, float] = {}
    for a in alerts:
        for s in (a.diaSource, *a.prvDiaSources):
            sid = s["diaSourceId"]
            noise.setdefault(sid, float(rng.normal(0, 200.0)))
            t = s["midpointMjdTai"] - start
            s["psfFlux"] = float(bazin(t, WL[s["band"]], scale, 12.0, 30.0, 0.3, 0.03)) + noise[sid]
            s["psfFluxErr"] = 200.0
    return alerts


def test_the_warm_start_starts_each_object_from_its_stored_fit(engine, caplog):
    alerts = bazin_alerts(3, 40)
    last = {a.diaObjectId: a for a in alerts}  # each object's newest alert (alerts are in time)
    earlier = [a for a in alerts if a is not last[a.diaObjectId]]
    with engine.begin() as conn:
        first = store_alerts(conn, earlier, bbb_warm=True)
        assert all(r["BBBFallRate"] is not None for r in first.rows.values())
        with caplog.at_level(logging.DEBUG, logger="skysift.features.compute"):
            second = store_alerts(conn, list(last.values()), bbb_warm=True)
    assert "3 objects fitted, 3 of them from their stored fit" in caplog.text
    # the same columns as a fit of the same light curves from the guesses
    for oid, a in last.items():
        srcs = [a.diaSource, *a.prvDiaSources]
        arrays = SourceArrays.from_rows(
            [(s["diaSourceId"], s["midpointMjdTai"], s["band"], s["psfFlux"], s["psfFluxErr"],
              0.9, 1.0, 1.0) for s in srcs], [0] * len(srcs))
        cold = fit_bbb(arrays, 1)
        row = second.rows[oid]
        assert row["BBBRiseRate"] == pytest.approx(cold.rise[0], rel=1e-3)
        assert row["BBBFallRate"] == pytest.approx(cold.fall[0], rel=1e-3)
        assert row["BBBTemp"] == pytest.approx(cold.temp[0], rel=1e-3)
        assert row["BBBPeakMJD"] == pytest.approx(cold.peak_mjd[0], abs=1e-3)
        assert row["BBBFallRate"] == pytest.approx(0.03, rel=0.1)


def test_without_the_setting_no_stored_fit_is_read(engine, caplog):
    alerts = bazin_alerts(2, 30)
    last = {a.diaObjectId: a for a in alerts}
    with engine.begin() as conn:
        store_alerts(conn, [a for a in alerts if a is not last[a.diaObjectId]])
        with caplog.at_level(logging.DEBUG, logger="skysift.features.compute"):
            store_alerts(conn, list(last.values()))
    assert "2 objects fitted, 0 of them from their stored fit" in caplog.text
