"""compute_features against independent computations over the input sources."""

from __future__ import annotations

import copy
import random

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy_healpix import HEALPix
from rubin_alerts import BANDS, grown_light_curves, real_alerts

from skysift.features import (
    FEATURE_COLUMNS,
    SourceArrays,
    compute_features,
    compute_features_many,
    galactic_latitude,
    healpix_index,
)
from skysift.features.sky import GALACTIC_POLE_ICRS, HEALPIX_ORDER


def _light_curve(seed: int = 2, n: int = 40):
    alerts = grown_light_curves(1, n, seed=seed, history=n)
    last = alerts[-1]
    sources = [*last.prvDiaSources, last.diaSource]
    return sources, last.prvDiaForcedSources, last.diaObject


def _latest(sources):
    return max(sources, key=lambda s: (s["midpointMjdTai"], s["diaSourceId"]))


def test_counts_and_latest_values():
    sources, forced, obj = _light_curve()
    out = compute_features(sources, forced, obj)
    assert out["diaObjectId"] == obj["diaObjectId"]
    assert out["nDiaSources"] == len(sources)
    assert out["nPosDiaSources"] == sum(1 for s in sources if (s["psfFlux"] or 0) > 0)
    latest = _latest(sources)
    assert out["lastDiaSourceMjdTai"] == latest["midpointMjdTai"]
    assert out["firstDiaSourceMjdTai"] == min(s["midpointMjdTai"] for s in sources)
    assert out["latest_psfFlux"] == latest["psfFlux"]
    assert out["latestR"] == latest["reliability"]
    for b in BANDS:
        in_band = [s for s in sources if s["band"] == b]
        assert out[f"n{b}Sources"] == len(in_band)
        if in_band:
            newest = _latest(in_band)
            assert out[f"{b}_psfFlux"] == newest["psfFlux"]
            assert out[f"{b}_latestMJD"] == newest["midpointMjdTai"]
        else:
            assert out[f"{b}_psfFlux"] is None and out[f"{b}_latestMJD"] is None


def test_band_means_are_inverse_variance_weighted():
    sources, forced, obj = _light_curve(seed=3, n=60)
    out = compute_features(sources, forced, obj)
    checked = 0
    for b in BANDS:
        good = [s for s in sources if s["band"] == b and s["psfFlux"] is not None]
        if not good:
            assert out[f"{b}_psfFluxMean"] is None
            continue
        flux = np.array([s["psfFlux"] for s in good])
        weight = 1.0 / np.array([s["psfFluxErr"] for s in good]) ** 2
        assert out[f"{b}_psfFluxMean"] == pytest.approx(np.average(flux, weights=weight),
                                                        rel=1e-12)
        assert out[f"{b}_psfFluxMeanErr"] == pytest.approx(weight.sum() ** -0.5, rel=1e-12)
        checked += 1
    assert checked >= 4


def test_sources_without_usable_flux_are_counted_but_not_averaged():
    sources, forced, obj = _light_curve(seed=4, n=8)
    for s in sources:
        s["band"] = "g"
    sources[0]["psfFlux"] = None
    sources[1]["psfFluxErr"] = 0.0
    sources[2]["psfFluxErr"] = float("nan")
    out = compute_features(sources, forced, obj)
    rest = sources[3:]
    weight = np.array([1 / s["psfFluxErr"] ** 2 for s in rest])
    expected = np.sum(weight * [s["psfFlux"] for s in rest]) / weight.sum()
    assert out["ngSources"] == 8
    assert out["g_psfFluxMean"] == pytest.approx(expected, rel=1e-12)


def test_median_reliability_skips_missing_values():
    sources, forced, obj = _light_curve(seed=5, n=31)
    sources[0]["reliability"] = None
    values = [s["reliability"] for s in sources if s["reliability"] is not None]
    out = compute_features(sources, forced, obj)
    assert out["medianR"] == pytest.approx(float(np.median(values)), rel=1e-15)
    even = [s for s in sources if s["reliability"] is not None][:10]
    assert compute_features(even, [], obj)["medianR"] == pytest.approx(
        float(np.median([s["reliability"] for s in even])), rel=1e-15)


def test_position_glat_and_healpix_match_astropy():
    sources, forced, obj = _light_curve(seed=6)
    out = compute_features(sources, forced, obj)
    assert (out["ra"], out["decl"]) == (obj["ra"], obj["dec"])
    coord = SkyCoord(ra=obj["ra"] * u.deg, dec=obj["dec"] * u.deg, frame="icrs")
    assert out["glat"] == pytest.approx(coord.galactic.b.deg, abs=1e-8)
    hp = HEALPix(nside=2**HEALPIX_ORDER, order="nested")
    assert out["healpix"] == int(hp.lonlat_to_healpix(coord.ra, coord.dec))


def test_vectorised_sky_functions_match_astropy_everywhere():
    rng = np.random.default_rng(0)
    ra = np.concatenate([rng.uniform(0, 360, 2000), [0.0, 359.999, 192.859478, 12.0]])
    dec = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, 2000))),
                          [90.0, -90.0, 27.128252, -27.128252]])
    coord = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs")
    assert np.max(np.abs(galactic_latitude(ra, dec) - coord.galactic.b.deg)) < 1e-10
    pole = SkyCoord(l=0 * u.deg, b=90 * u.deg, frame="galactic").icrs.cartesian.xyz.value
    np.testing.assert_allclose(GALACTIC_POLE_ICRS, pole, atol=1e-14)
    hp = HEALPix(nside=2**HEALPIX_ORDER, order="nested")
    np.testing.assert_array_equal(healpix_index(ra, dec),
                                  hp.lonlat_to_healpix(ra * u.deg, dec * u.deg))


def test_without_dia_object_position_is_the_latest_source():
    sources, forced, _ = _light_curve(seed=7, n=5)
    out = compute_features(sources, forced, None)
    latest = _latest(sources)
    assert (out["ra"], out["decl"]) == (latest["ra"], latest["dec"])
    assert out["diaObjectId"] == latest["diaObjectId"]
    assert out["validityStartMjdTai"] is None and out["r_psfFluxSigma"] is None


def test_dia_object_columns_are_copied_as_sent():
    sources, forced, obj = _light_curve(seed=8, n=3)
    obj = copy.deepcopy(obj)
    obj["g_psfFluxNdata"] = 7
    obj["raErr"] = float("nan")
    out = compute_features(sources, forced, obj)
    assert out["g_psfFluxNdata"] == 7 and out["raErr"] is None
    assert out["r_psfFluxSigma"] == obj["r_psfFluxSigma"]
    assert out["validityStartMjdTai"] == obj["validityStartMjdTai"]
    # a colliding name holds the computed value, not the diaObject's
    obj["nDiaSources"] = 999
    assert compute_features(sources, forced, obj)["nDiaSources"] == 3


def test_result_does_not_depend_on_input_order():
    sources, forced, obj = _light_curve(seed=9, n=50)
    reference = compute_features(sources, forced, obj)
    for seed in range(3):
        shuffled = list(sources)
        random.Random(seed).shuffle(shuffled)
        assert compute_features(shuffled, forced, obj) == reference


def test_equal_times_are_ordered_by_source_id():
    sources, forced, obj = _light_curve(seed=10, n=4)
    t = max(s["midpointMjdTai"] for s in sources) + 1.0
    a, b = copy.deepcopy(sources[0]), copy.deepcopy(sources[1])
    a.update(midpointMjdTai=t, diaSourceId=10**18 + 2, psfFlux=111.0, band="u")
    b.update(midpointMjdTai=t, diaSourceId=10**18 + 1, psfFlux=222.0, band="u")
    assert compute_features([*sources, a, b], forced, obj)["latest_psfFlux"] == 111.0
    assert compute_features([b, a, *sources], forced, obj)["u_psfFlux"] == 111.0


def test_many_objects_at_once_equal_one_at_a_time():
    alerts = grown_light_curves(5, 9, seed=11, history=9)
    curves: dict[int, list[dict]] = {}
    objs: dict[int, dict] = {}
    for a in alerts:
        curves.setdefault(a.diaObjectId, [])
        seen = {s["diaSourceId"] for s in curves[a.diaObjectId]}
        curves[a.diaObjectId] += [s for s in [a.diaSource, *a.prvDiaSources]
                                  if s["diaSourceId"] not in seen]
        objs[a.diaObjectId] = a.diaObject
    ids = [*sorted(curves), 123]  # an object without sources
    flat = [(i, s) for i, oid in enumerate(ids) for s in curves.get(oid, [])]
    rows = [(s["diaSourceId"], s["midpointMjdTai"], s["band"], s["psfFlux"], s["psfFluxErr"],
             s["reliability"], s["ra"], s["dec"]) for _, s in flat]
    arrays = SourceArrays.from_rows(rows, [i for i, _ in flat])
    many = compute_features_many(arrays, ids, [objs.get(o) for o in ids])
    for oid, row in zip(ids[:-1], many[:-1], strict=True):
        assert row == compute_features(curves[oid], [], objs[oid])
    assert many[-1]["nDiaSources"] == 0 and many[-1]["ra"] is None and many[-1]["healpix"] is None
    assert list(many[0]) == list(FEATURE_COLUMNS)


def test_real_alert_single_source():
    alerts = [a for a in real_alerts() if a.diaObject is not None]
    if not alerts:
        pytest.skip("no real Rubin alert files")
    for a in alerts:
        out = compute_features([a.diaSource], [], a.diaObject)
        band = a.diaSource["band"]
        assert out[f"n{band}Sources"] == 1 and out["nDiaSources"] == 1
        assert out[f"{band}_psfFluxMean"] == pytest.approx(a.diaSource["psfFlux"], rel=1e-12)
        assert out[f"{band}_psfFluxMeanErr"] == pytest.approx(a.diaSource["psfFluxErr"],
                                                              rel=1e-12)
        assert out["medianR"] == out["latestR"] == a.diaSource["reliability"]
