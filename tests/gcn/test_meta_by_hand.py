"""Every number meta.yaml's EXTRA derives, recomputed by hand from the files the alert wrote.

The far_per_year slip (years per false alarm written as a rate) was found by a reader; this test
recomputes each derived field independently of skysift's skymaps package, with numpy on the raw
FITS table (astropy.table), astropy_healpix for pixel centres, astropy.coordinates for galactic
coordinates and astropy.time for the latency, so a wrong unit or convention in any field fails.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

SECONDS_PER_YEAR = 365.25 * 86400  # Julian year, as LVK's FAR conversion uses


def _by_hand(map_path):
    """areas (deg2, strictly-below rule), peak, header distance, pixels, straight from the file."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.table import Table
    from astropy_healpix import healpix_to_lonlat

    t = Table.read(map_path, format="fits")
    uniq = np.asarray(t["UNIQ"], dtype=np.int64)
    order = (np.floor(np.log2(uniq) / 2) - 1).astype(np.int64)  # uniq = 4 * 4**order + ipix
    ipix = uniq - 4 * 4**order
    dens = np.asarray(t["PROBDENSITY"], dtype=float)  # per steradian
    area_sr = 4 * np.pi / (12 * 4.0**order)
    prob = dens * area_sr
    rank = np.argsort(-dens, kind="stable")
    before_or_at = np.cumsum(prob[rank])
    deg2 = area_sr[rank] * (180 / np.pi) ** 2
    areas = {p: float(deg2[before_or_at < p].sum()) for p in (0.1, 0.5, 0.9)}
    top = int(np.argmax(dens))
    lon, lat = healpix_to_lonlat(ipix[top], 2 ** int(order[top]), order="nested")
    gal = SkyCoord(lon, lat, frame="icrs").galactic
    header = fits.getheader(map_path, 1)
    return {"areas": areas, "ra": lon.to_value(u.deg), "dec": lat.to_value(u.deg),
            "l": gal.l.deg, "b": gal.b.deg, "n": len(t), "max_order": int(order.max()),
            "total": float(prob.sum()), "distmean": header.get("DISTMEAN"),
            "diststd": header.get("DISTSTD")}


NOTICES = ["MS181101ab-earlywarning", "S230518h-initial", "MS230425k-preliminary",
           "MS230425k-initial"]


@pytest.mark.parametrize("stem", NOTICES)
def test_every_derived_number_of_extra_equals_a_hand_computation(gcn_settings, lvk_dir, stem):
    from astropy.time import Time

    from skysift.gcn.pipeline import AlertProcessor

    path = next(p for p in lvk_dir.rglob(f"{stem}*.json"))
    raw = path.read_bytes()
    notice = json.loads(raw)
    out = AlertProcessor(gcn_settings()).process(raw, path=path.name)
    assert out.status == "written", out.problems
    x = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())["EXTRA"]
    hand = _by_hand(out.alert_dir / x["map_file"])

    for p, key in ((0.1, "area10"), (0.5, "area50"), (0.9, "area90")):
        assert x[key] == pytest.approx(hand["areas"][p], abs=5e-4), key  # rounded to 0.001 deg2
    assert x["peak"]["ra"] == pytest.approx(hand["ra"], abs=1e-9)
    assert x["peak"]["dec"] == pytest.approx(hand["dec"], abs=1e-9)
    assert x["peak"]["l"] == pytest.approx(hand["l"], abs=1e-6)
    assert x["peak"]["b"] == pytest.approx(hand["b"], abs=1e-6)
    assert x["central coordinate"]["equatorial"] == f"{hand['ra']:.6f} {hand['dec']:.6f}"
    assert x["n_pixels"] == hand["n"] and x["max_order"] == hand["max_order"]
    assert x["total_probability"] == pytest.approx(hand["total"], abs=1e-9)
    for key in ("distmean", "diststd"):  # Mpc, the map's own header
        assert x[key] == (pytest.approx(hand[key], rel=1e-12) if hand[key] is not None else None)

    # latency: notice created minus event time, both UTC ISO strings in the notice
    event_t = Time(notice["event"]["time"].replace("Z", ""), format="isot", scale="utc")
    made_t = Time(notice["time_created"].replace("Z", ""), format="isot", scale="utc")
    assert x["latency_seconds"] == pytest.approx((made_t - event_t).sec, abs=1e-3)

    # FAR: the notice's Hz as a rate per year, and its reciprocal in words
    far_hz = notice["event"]["far"]
    assert x["far_per_year"] == pytest.approx(far_hz * SECONDS_PER_YEAR, rel=1e-12)
    years = 1 / (far_hz * SECONDS_PER_YEAR)
    text = x["far_text"]
    assert text.startswith("1 per ")
    number, unit = text[len("1 per "):].split(" ")
    shown = float(number) * (1 / 365.25 if unit == "days" else 1)
    assert unit in ("years", "days") and shown == pytest.approx(years, rel=5e-3)
