"""Lasair-LSST's light-curve features (htm16, nights, good sources, jumps, pair colours), each
against a computation written independently from its definition: plain Python loops over the
sources, esutil's HTM, scipy's root finder on astropy's Planck constants."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import astropy.constants as const
import numpy as np
import pytest
from rubin_alerts import BANDS, grown_light_curves, real_alerts

from skysift.features import SourceArrays, compute_features_many
from skysift.features.htm import htm_id, trixel_vertices
from skysift.features.lightcurve import (
    PAIR_WAVELENGTH_UM,
    blackbody_temperature,
    lightcurve_features,
)

HTM_CSV = Path(__file__).resolve().parent.parent / "data" / "htm" / "esutil_htm16.csv"


# ---------------------------------------------------------------- independent references


def ref_nights(sources):
    return len({math.floor(s["midpointMjdTai"] - 0.5) for s in sources
                if s.get("psfFlux") is not None and s["psfFlux"] > 0})


def ref_good(sources):
    return sum(1 for s in sources if s.get("reliability") is not None and s["reliability"] > 0.5)


def _detections(sources):
    det = [
        s for s in sources if s.get("psfFlux") is not None and s.get("midpointMjdTai") is not None
    ]
    return sorted(det, key=lambda s: (s["midpointMjdTai"], s["diaSourceId"]))


def ref_jumps(sources):
    """Per band: mean and sample sd of fluxes 10-70 days before the newest detection (>= 5),
    largest |f - mean| / sd over the last 10 days; the largest band, then the next."""
    det = [s for s in _detections(sources) if s.get("band") in BANDS]
    if not det:
        return None, None
    newest = max(s["midpointMjdTai"] for s in det)
    jumps = []
    for b in BANDS:
        sample = [s["psfFlux"] for s in det
                  if s["band"] == b and 10 < newest - s["midpointMjdTai"] < 70]
        if len(sample) < 5:
            continue
        m = sum(sample) / len(sample)
        sd = math.sqrt(sum((x - m) ** 2 for x in sample) / (len(sample) - 1))
        recent = [s["psfFlux"] for s in det
                  if s["band"] == b and 0 <= newest - s["midpointMjdTai"] < 10]
        if sd > 0 and recent:
            jumps.append(max(abs(x - m) / sd for x in recent))
    jumps.sort(reverse=True)
    return (jumps[0] if jumps else None), (jumps[1] if len(jumps) > 1 else None)


def planck_ratio(wl_blue_um, wl_red_um, t_k):
    """B_nu(blue) / B_nu(red) from astropy's h, c, k_B (SI), written out in full."""
    h, c, k = const.h.value, const.c.value, const.k_B.value

    def bnu(wl_um):
        nu = c / (wl_um * 1e-6)
        return 2 * h * nu**3 / c**2 / math.expm1(h * nu / (k * t_k))

    return bnu(wl_blue_um) / bnu(wl_red_um)


def ref_temperature_kk(blue, red, ratio):
    from scipy.optimize import brentq

    wb, wr = PAIR_WAVELENGTH_UM[blue], PAIR_WAVELENGTH_UM[red]
    lo, hi = 100.0, 1_000_000.0
    if not planck_ratio(wb, wr, lo) <= ratio <= planck_ratio(wb, wr, hi):
        return None
    return brentq(lambda t: planck_ratio(wb, wr, t) - ratio, lo, hi, xtol=1e-9, rtol=1e-13) / 1000


def ref_pairs(sources):
    """Consecutive detections in different bands < 33 min apart, both positive: the latest pair
    and the latest one ending before the latest begins."""
    det = _detections(sources)
    ends = [i for i in range(1, len(det))
            if det[i]["midpointMjdTai"] - det[i - 1]["midpointMjdTai"] < 33 / 1440
            and det[i]["band"] != det[i - 1]["band"]
            and det[i]["band"] in BANDS and det[i - 1]["band"] in BANDS
            and det[i]["psfFlux"] > 0 and det[i - 1]["psfFlux"] > 0]
    out = {}
    latest = ends[-1] if ends else None
    earlier = [i for i in ends if latest is not None and i <= latest - 2]
    for prefix, end in (("latestPair", latest),
                        ("penultimatePair", earlier[-1] if earlier else None)):
        if end is None:
            out.update({f"{prefix}{k}": None for k in ("MJD", "ColourMag", "ColourBands",
                                                       "ColourTemp")})
            continue
        a, b = det[end - 1], det[end]
        blue, red = sorted((a, b), key=lambda s: BANDS.index(s["band"]))
        ratio = blue["psfFlux"] / red["psfFlux"]
        out[f"{prefix}MJD"] = b["midpointMjdTai"]
        out[f"{prefix}ColourBands"] = f"{blue['band']}-{red['band']}"
        out[f"{prefix}ColourMag"] = -2.5 * math.log10(ratio)
        out[f"{prefix}ColourTemp"] = ref_temperature_kk(blue["band"], red["band"], ratio)
    return out


def features_of(*light_curves):
    """lightcurve_features of several objects' sources at once, as one row dict per object."""
    rows, groups = [], []
    for k, sources in enumerate(light_curves):
        for s in sources:
            rows.append((s["diaSourceId"], s.get("midpointMjdTai"), s.get("band"), s.get("psfFlux"),
                         s.get("psfFluxErr"), s.get("reliability"), s.get("ra"), s.get("dec")))
            groups.append(k)
    out = lightcurve_features(SourceArrays.from_rows(rows, groups), len(light_curves))
    result = []
    for k in range(len(light_curves)):
        row = {}
        for name, values in out.items():
            v = values[k]
            if isinstance(v, (float, np.floating)):
                v = None if np.isnan(v) else float(v)
            elif isinstance(v, np.integer):
                v = int(v)
            row[name] = v
        result.append(row)
    return result


def assert_close(got, want, name, rel=1e-9, abs_=1e-9):
    if want is None:
        assert got is None, f"{name}: got {got}, want NULL"
    elif isinstance(want, str):
        assert got == want, name
    else:
        assert got == pytest.approx(want, rel=rel, abs=abs_), name


def source(i, mjd, band, flux, *, err=100.0, rel=0.9, oid=1):
    return {"diaSourceId": 10_000 + i, "diaObjectId": oid, "midpointMjdTai": mjd, "band": band,
            "psfFlux": flux, "psfFluxErr": err, "reliability": rel, "ra": 10.0, "dec": -5.0}


def real_light_curves():
    """The full diaSource history of every real alert in ../shared/data (first-night alerts:
    short histories, so the multi-night cases come from :func:`grown_curves`)."""
    curves = [[*a.prvDiaSources, a.diaSource] for a in real_alerts()]
    curves = [c for c in curves if c]
    if not curves:
        pytest.skip("no real Rubin alert files")
    return curves


def grown_curves(n_objects=30, n_alerts=150, seed=8):
    """Real diaSources given new times (200 days), bands and fluxes: every source of each object."""
    curves: dict[int, list] = {}
    for a in grown_light_curves(n_objects, n_alerts, seed=seed, history=0, n_forced=0):
        curves.setdefault(a.diaObjectId, []).append(a.diaSource)
    return list(curves.values())


# ---------------------------------------------------------------- htm16


def test_htm16_equals_esutil_on_its_reference_positions():
    with HTM_CSV.open() as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert len(rows) > 2000
    ra = np.array([float(r["ra"]) for r in rows])
    dec = np.array([float(r["dec"]) for r in rows])
    want = np.array([int(r["htm16"]) for r in rows])
    got = htm_id(ra, dec, level=16)
    assert np.array_equal(got, want), f"{int((got != want).sum())} positions differ"


def test_htm16_equals_live_esutil_when_installed():
    htm = pytest.importorskip("esutil.htm")
    rng = np.random.default_rng(7)
    ra = rng.uniform(0, 360, 20_000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))
    assert np.array_equal(htm_id(ra, dec, 16), htm.HTM(16).lookup_id(ra, dec))


def test_every_position_lies_inside_its_own_trixel():
    rng = np.random.default_rng(11)
    ra = rng.uniform(0, 360, 500)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 500)))
    ids = htm_id(ra, dec, 16)
    assert ids.min() >= 8 * 4**16 and ids.max() < 16 * 4**16
    p = np.stack([np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                  np.cos(np.radians(dec)) * np.sin(np.radians(ra)),
                  np.sin(np.radians(dec))], axis=1)
    for k in range(len(ra)):
        verts = trixel_vertices(int(ids[k]))  # 3 x 3 unit vectors
        a, b, c = verts
        for x, y in ((a, b), (b, c), (c, a)):
            assert np.dot(np.cross(x, y), p[k]) >= -1e-12
        # a level-16 trixel is a few arcsec across: its corners are all within 10 arcsec
        assert np.degrees(np.arccos(np.clip(verts @ p[k], -1, 1))).max() * 3600 < 10


def test_htm16_is_stored_for_each_object_of_a_batch():
    alerts = grown_light_curves(3, 4, seed=5)
    last = {a.diaObjectId: a for a in alerts}
    objs = list(last.values())
    rows, groups = [], []
    for k, a in enumerate(objs):
        for s in [*a.prvDiaSources, a.diaSource]:
            rows.append((s["diaSourceId"], s["midpointMjdTai"], s["band"], s["psfFlux"],
                         s["psfFluxErr"], s["reliability"], s["ra"], s["dec"]))
            groups.append(k)
    out = compute_features_many(SourceArrays.from_rows(rows, groups), [a.diaObjectId for a in objs],
                                [a.diaObject for a in objs])
    for k, a in enumerate(objs):
        want = int(htm_id(out[k]["ra"], out[k]["decl"], 16))
        assert out[k]["htm16"] == want
        assert out[k]["diaObjectId"] == a.diaObjectId


# ---------------------------------------------------------------- nights and good sources


def test_nights_and_good_sources_equal_loops_on_real_light_curves():
    curves = real_light_curves() + grown_curves()
    got = features_of(*curves)
    for sources, row in zip(curves, got, strict=True):
        assert row["nPosDiaSourcesNights"] == ref_nights(sources)
        assert row["nSourcesGood"] == ref_good(sources)
    assert any(r["nPosDiaSourcesNights"] > 1 for r in got)


def test_a_night_runs_from_noon_to_noon():
    # 23:31 and 07:12 UTC straddle midnight UTC (19:31 and 03:12 in Chile): one night (dayObs
    # 60899); 60901.1 is the next; a negative detection on a third night does not count
    s = [source(0, 60899.98, "g", 5.0), source(1, 60900.30, "r", 5.0),
         source(2, 60901.10, "g", 5.0), source(3, 60902.10, "g", -5.0)]
    assert features_of(s)[0]["nPosDiaSourcesNights"] == 2


def test_good_means_reliability_above_one_half():
    s = [source(0, 1.0, "g", 1.0, rel=0.5), source(1, 2.0, "g", 1.0, rel=0.51),
         source(2, 3.0, "g", 1.0, rel=None), source(3, 4.0, "g", 1.0, rel=0.99)]
    assert features_of(s)[0]["nSourcesGood"] == 2


# ---------------------------------------------------------------- jumps


def _steady(band, t0, n, flux, noise, rng, start=0):
    return [source(start + i, t0 + i * (50 / n), band, flux + float(rng.normal(0, noise)))
            for i in range(n)]


def test_constant_source_has_jump_near_zero():
    rng = np.random.default_rng(3)
    s = _steady("g", 60900.0, 30, 1000.0, 10.0, rng)   # days 0..48
    s.append(source(99, 60960.0, "g", 1000.0))         # 12 days after the sample ends
    row = features_of(s)[0]
    sample = [x["psfFlux"] for x in s if 10 < 60960.0 - x["midpointMjdTai"] < 70]
    assert row["jump1"] == pytest.approx(abs(1000.0 - np.mean(sample)) / np.std(sample, ddof=1))
    assert row["jump1"] < 0.5
    assert row["jump2"] is None


def test_a_ten_sigma_step_gives_jump_ten():
    rng = np.random.default_rng(4)
    s = _steady("r", 60900.0, 20, 500.0, 20.0, rng)
    flux = np.array([x["psfFlux"] for x in s])
    step = flux.mean() + 10 * flux.std(ddof=1)
    s.append(source(50, 60965.0, "r", float(step)))
    # a smaller step in g: jump2
    g = _steady("g", 60901.0, 10, 100.0, 5.0, rng, start=100)
    gflux = np.array([x["psfFlux"] for x in g])
    g.append(source(150, 60960.0, "g", float(gflux.mean() - 4 * gflux.std(ddof=1))))
    row = features_of(s + g)[0]
    assert row["jump1"] == pytest.approx(10.0, rel=1e-12)
    assert row["jump2"] == pytest.approx(4.0, rel=1e-12)


def test_jump_is_null_with_fewer_than_five_sample_points():
    rng = np.random.default_rng(5)
    s = _steady("i", 60900.0, 4, 300.0, 10.0, rng)  # 4 points in the -70..-10 window
    s.append(source(60, 60960.0, "i", 900.0))
    row = features_of(s)[0]
    assert row["jump1"] is None and row["jump2"] is None


def test_jumps_equal_loops_on_real_and_grown_light_curves():
    curves = real_light_curves() + grown_curves()
    got = features_of(*curves)
    seen = 0
    for sources, row in zip(curves, got, strict=True):
        j1, j2 = ref_jumps(sources)
        assert_close(row["jump1"], j1, "jump1", rel=1e-10)
        assert_close(row["jump2"], j2, "jump2", rel=1e-10)
        seen += j2 is not None
    assert seen >= 10  # the comparison met real numbers, not only NULLs


# ---------------------------------------------------------------- pairs and colour temperature


def test_blackbody_temperature_equals_scipy_on_astropy_constants():
    cases = [("g", "r", 0.8), ("u", "g", 0.6), ("r", "i", 1.1), ("i", "z", 0.95),
             ("z", "y", 1.0), ("g", "i", 1.3), ("u", "y", 0.2)]
    for blue, red, ratio in cases:
        want = ref_temperature_kk(blue, red, ratio)
        got = float(blackbody_temperature(PAIR_WAVELENGTH_UM[blue], PAIR_WAVELENGTH_UM[red], ratio))
        if want is None:
            assert math.isnan(got), (blue, red, ratio)
        else:
            assert got == pytest.approx(want, rel=1e-7), (blue, red, ratio)


def test_a_10kK_blackbody_pair_is_recovered():
    ratio = planck_ratio(PAIR_WAVELENGTH_UM["g"], PAIR_WAVELENGTH_UM["r"], 10_000.0)
    s = [source(0, 60900.0, "r", 1000.0), source(1, 60900.01, "g", 1000.0 * ratio)]
    row = features_of(s)[0]
    assert row["latestPairColourBands"] == "g-r"
    assert row["latestPairMJD"] == 60900.01
    assert row["latestPairColourTemp"] == pytest.approx(10.0, rel=1e-7)
    assert row["latestPairColourMag"] == pytest.approx(-2.5 * math.log10(ratio), rel=1e-12)
    assert row["penultimatePairMJD"] is None


def test_pairs_need_two_bands_positive_fluxes_and_under_33_minutes():
    base = 60900.0
    s = [source(0, base, "g", 100.0), source(1, base + 34 / 1440, "r", 100.0),          # too far
         source(2, base + 1, "g", 100.0), source(3, base + 1 + 5 / 1440, "g", 90.0),    # same band
         source(4, base + 2, "g", -100.0), source(5, base + 2 + 5 / 1440, "r", 90.0),   # negative
         source(6, base + 3, "z", 100.0), source(7, base + 3 + 32 / 1440, "i", 80.0)]   # a pair
    row = features_of(s)[0]
    assert row["latestPairColourBands"] == "i-z"
    assert row["latestPairMJD"] == base + 3 + 32 / 1440
    assert row["latestPairColourMag"] == pytest.approx(-2.5 * math.log10(80.0 / 100.0))
    assert row["penultimatePairMJD"] is None


def test_penultimate_pair_does_not_share_a_detection_with_the_latest():
    base = 60900.0
    # g r i within minutes: pairs (g,r) and (r,i) overlap; the penultimate must come from earlier
    s = [source(0, base, "u", 50.0), source(1, base + 0.01, "g", 60.0),
         source(2, base + 5, "g", 100.0), source(3, base + 5.005, "r", 110.0),
         source(4, base + 5.010, "i", 120.0)]
    row = features_of(s)[0]
    assert row["latestPairColourBands"] == "r-i"
    assert row["penultimatePairColourBands"] == "u-g"
    assert row["penultimatePairMJD"] == base + 0.01


def test_pairs_equal_loops_on_synthetic_nights():
    rng = np.random.default_rng(12)
    curves = []
    for k in range(60):
        t, s = 60900.0, []
        for i in range(int(rng.integers(2, 25))):
            t += float(rng.choice([rng.uniform(0.001, 0.03), rng.uniform(0.5, 3.0)]))
            s.append(source(i, t, BANDS[int(rng.integers(0, 6))],
                            float(rng.normal(1000, 600)), oid=k))
        curves.append(s)
    curves += real_light_curves()
    got = features_of(*curves)
    temps = 0
    for sources, row in zip(curves, got, strict=True):
        want = ref_pairs(sources)
        for name, value in want.items():
            assert_close(row[name], value, name, rel=1e-7)
        temps += want["latestPairColourTemp"] is not None
    assert temps >= 10
