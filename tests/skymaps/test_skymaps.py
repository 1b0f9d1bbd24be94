"""Sky-map maths against the reference numbers of shared/data/README.md and gocart.md §8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skysift.errors import SkymapError
from skysift.skymaps.credible import credible_areas, credible_levels, peak
from skysift.skymaps.distance import moments_to_parameters, parameters_to_moments
from skysift.skymaps.flatten import flatten
from skysift.skymaps.lookup import rows_at
from skysift.skymaps.multiorder import read_multiorder

SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2


def test_ms181101ab_reads_19200_rows_orders_4_to_11_total_probability_1(maps):
    m = maps["MS181101ab"]
    assert len(m) == 19200
    assert (m.level.min(), m.level.max()) == (4, 11)
    assert m.prob.sum() == pytest.approx(1.0, abs=1e-9)
    assert m.header["DISTMEAN"] == pytest.approx(39.770, abs=5e-4)
    assert m.header["DISTSTD"] == pytest.approx(8.308, abs=5e-4)
    assert "HISTORY" not in m.header


def test_ms181101ab_areas_by_the_strictly_below_rule(maps):
    areas = credible_areas(maps["MS181101ab"])
    assert areas[0.9] == pytest.approx(30.975181, abs=1e-5)
    assert areas[0.5] == pytest.approx(8.8978, abs=1e-4)
    assert areas[0.1] == pytest.approx(1.3671, abs=1e-4)


def test_ms181101ab_peak_pixel_is_the_reference_one(maps):
    pk = peak(maps["MS181101ab"])
    assert pk.ra == pytest.approx(194.30419921874997, abs=1e-12)
    assert pk.dec == pytest.approx(-17.856895095545468, abs=1e-12)


def test_pe_and_large_bayestar_areas(maps):
    s = maps["S230518h"]
    assert (s.level.min(), s.level.max()) == (4, 9)
    assert credible_areas(s, (0.9,))[0.9] == pytest.approx(666, abs=1.0)
    assert credible_areas(maps["MS220722v"], (0.9,))[0.9] == pytest.approx(1262, abs=1.0)


@pytest.mark.parametrize("name", ["MS181101ab", "S230518h"])
def test_credible_levels_are_monotonic_in_density(maps, name):
    m = maps[name]
    levels = credible_levels(m)
    order = np.argsort(-m.probdensity, kind="stable")
    assert np.all(np.diff(levels[order]) >= 0)
    assert levels[order][0] == pytest.approx(m.prob[order][0])
    assert levels.max() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("nside,area90", [(16, 67.14), (64, 34.41), (256, 31.16)])
def test_flatten_sums_to_one_and_matches_gocart_flat_areas(maps, nside, area90):
    flat = flatten(maps["MS181101ab"], nside)
    assert flat.npix == 12 * nside**2
    assert flat.prob.sum() == pytest.approx(1.0, abs=1e-9)
    order = np.argsort(-flat.prob)
    flat_area = (np.cumsum(flat.prob[order]) < 0.9).sum() * SKY_DEG2 / flat.npix
    assert flat_area == pytest.approx(area90, abs=0.01)


@pytest.mark.parametrize("nside", [16, 64, 256])
def test_flattened_distances_keep_the_distance_mean(maps, nside):
    """Probability-weighted mixture of the per-pixel conditional means must stay DISTMEAN 39.770."""
    flat = flatten(maps["MS181101ab"], nside)
    mean, _, _ = parameters_to_moments(flat.distmu, flat.distsigma)
    m = maps["MS181101ab"]
    # the map itself has no distance (DISTMU=inf) in 176 faint pixels holding 2.8e-5 of the
    # probability; flattening must lose nothing more (gocart lost every coarse pixel's distance)
    lost_in_map = m.prob[~np.isfinite(m.distmu)].sum()
    assert flat.prob[~np.isfinite(mean)].sum() <= lost_in_map + 1e-12
    used = np.isfinite(mean)
    assert used.sum() > 0.95 * flat.npix  # gocart: 768 of 49152 at nside 64
    assert np.sum(flat.prob[used] * mean[used]) / flat.prob[used].sum() == pytest.approx(
        39.770, abs=0.02
    )


def test_split_pixels_inherit_their_parents_distance(maps):
    m = maps["MS181101ab"]
    flat = flatten(m, 64)
    rows = np.flatnonzero(m.level == 4)[:20]
    children = m.ipix[rows] * 4 ** (6 - 4)  # first child of each at order 6
    assert np.array_equal(flat.distmu[children], m.distmu[rows])
    assert np.array_equal(flat.distnorm[children], m.distnorm[rows])
    assert flat.prob[children] == pytest.approx(m.probdensity[rows] * np.pi / 3 / 4**6)


def test_distance_moments_round_trip():
    mu = np.array([100.0, 40.0, -20.0, 5.0, 400.0])
    sigma = np.array([10.0, 30.0, 15.0, 20.0, 120.0])
    mean, std, norm = parameters_to_moments(mu, sigma)
    back_mu, back_sigma, back_norm = moments_to_parameters(mean, std)
    assert back_mu == pytest.approx(mu, rel=1e-5)
    assert back_sigma == pytest.approx(sigma, rel=1e-5)
    assert back_norm == pytest.approx(norm, rel=1e-5)
    # the normalisation really normalises r^2 N(r; mu, sigma) on r >= 0
    r = np.linspace(0, 2000, 400001)
    pdf = (
        norm[0]
        * r**2
        * np.exp(-0.5 * ((r - mu[0]) / sigma[0]) ** 2)
        / (sigma[0] * np.sqrt(2 * np.pi))
    )
    assert np.trapezoid(pdf, r) == pytest.approx(1.0, rel=1e-6)
    assert np.trapezoid(r * pdf, r) == pytest.approx(mean[0], rel=1e-6)


def test_no_distance_is_inf_1_0():
    mean, std, norm = parameters_to_moments(np.array([np.inf]), np.array([1.0]))
    assert (mean[0], std[0], norm[0]) == (np.inf, 1.0, 0.0)


def test_lookup_finds_the_pixel_of_each_centre(maps):
    from astropy_healpix import healpix_to_lonlat, level_to_nside

    m = maps["MS181101ab"]
    rng = np.random.default_rng(1)
    rows = rng.choice(len(m), 300, replace=False)
    ra = np.empty(rows.size)
    dec = np.empty(rows.size)
    for i, r in enumerate(rows):
        lon, lat = healpix_to_lonlat(m.ipix[r], level_to_nside(int(m.level[r])), order="nested")
        ra[i], dec[i] = lon.deg, lat.deg
    assert np.array_equal(rows_at(m, ra, dec), rows)


def test_moc_region_area_equals_the_credible_area(maps):
    from skysift.skymaps.regions import credible_moc

    m = maps["MS181101ab"]
    areas = credible_areas(m)
    for level in (0.5, 0.9):
        moc = credible_moc(m, level)
        assert moc.sky_fraction * SKY_DEG2 == pytest.approx(areas[level], rel=1e-9)
    pk = peak(m)
    import astropy.units as u
    assert credible_moc(m, 0.9).contains_lonlat(pk.ra * u.deg, pk.dec * u.deg)[0]


def test_bad_bytes_name_where(tmp_path, map_bytes):
    with pytest.raises(SkymapError, match=r"not a FITS file") as err:
        read_multiorder(b"hello", where="alert X")
    assert err.value.path == "alert X"
    with pytest.raises(SkymapError, match=r"does not decode|no binary table"):
        read_multiorder(map_bytes["MS181101ab"][:20000], where="truncated")
    missing = tmp_path / "nope.fits"
    with pytest.raises(SkymapError, match=r"cannot read") as err:
        read_multiorder(missing)
    assert err.value.path == str(missing)


def test_a_map_that_does_not_tile_the_sky_is_refused(map_bytes, tmp_path):
    from astropy.table import Table

    t = Table.read(__import__("io").BytesIO(map_bytes["MS181101ab"]))
    t = t[:-10]
    path = tmp_path / "holes.fits"
    t.write(path)
    with pytest.raises(SkymapError, match=r"cover"):
        read_multiorder(path)


def test_burst_map_without_distance_columns_flattens(map_bytes, tmp_path):
    from astropy.table import Table

    t = Table.read(__import__("io").BytesIO(map_bytes["S230518h"]))
    t.keep_columns(["UNIQ", "PROBDENSITY"])
    path = tmp_path / "olib.fits"
    t.write(path)
    m = read_multiorder(path)
    assert not m.has_distance
    flat = flatten(m, 32)
    assert flat.distmu is None and flat.prob.sum() == pytest.approx(1.0, abs=1e-9)


def test_hammer_round_trip():
    from skysift.skymaps.projection import hammer, inverse_hammer

    rng = np.random.default_rng(2)
    lon = rng.uniform(-np.pi + 1e-6, np.pi - 1e-6, 1000)
    lat = rng.uniform(-np.pi / 2 + 1e-6, np.pi / 2 - 1e-6, 1000)
    back_lon, back_lat, inside = inverse_hammer(*hammer(lon, lat))
    assert inside.all()
    assert back_lon == pytest.approx(lon, abs=1e-9)
    assert back_lat == pytest.approx(lat, abs=1e-9)


def test_sun_and_moon_are_geocentric():
    from skysift.skymaps.ephemeris import sun_moon

    (sra, sdec), (mra, mdec) = sun_moon("2018-11-01T22:22:46.654")
    assert (sra, sdec) == pytest.approx((216.79, -14.55), abs=0.05)  # 1 Nov: RA 14h27, Dec -14.5
    assert -30 < mdec < 30 and 0 <= mra < 360


def test_the_zoom_holds_the_whole_90_percent_region_around_the_reference_peak(maps):
    """The plot's zoomed inset is centred on the densest pixel (the data README's reference
    peak) and is wide enough for every pixel of the 90% region."""
    from astropy.coordinates import SkyCoord
    from astropy_healpix import healpix_to_lonlat, level_to_nside

    from skysift.skymaps.credible import region_mask
    from skysift.skymaps.plot import zoom_extent

    for m in maps.values():
        ra0, dec0, half = zoom_extent(m)
        rows = np.flatnonzero(region_mask(m, 0.9, credible_levels(m)))
        ra = np.empty(rows.size)
        dec = np.empty(rows.size)
        for lev in np.unique(m.level[rows]):
            sel = m.level[rows] == lev
            lon, lat = healpix_to_lonlat(m.ipix[rows[sel]], level_to_nside(int(lev)),
                                         order="nested")
            ra[sel], dec[sel] = lon.deg, lat.deg
        far = SkyCoord(ra, dec, unit="deg").separation(SkyCoord(ra0, dec0, unit="deg")).deg.max()
        assert far < half
    ra0, dec0, _ = zoom_extent(maps["MS181101ab"])
    assert (ra0, dec0) == (pytest.approx(194.30419921874997), pytest.approx(-17.856895095545468))


LVK = Path(__file__).resolve().parent.parent / "data" / "lvk"


def _rendered(m, tmp_path, monkeypatch, name):
    """Render ``m`` with the side panel the GCN listener gives its notice (tests/data/lvk); the
    PNG and the figure (kept open for inspection)."""
    import lzma

    import matplotlib.pyplot as plt

    from skysift.gcn.summary import panel_lines
    from skysift.skymaps.notice import decode_notices
    from skysift.skymaps.plot import PlotOptions, render_skymap

    stem = {"MS181101ab": "MS181101ab-earlywarning", "S230518h": "S230518h-initial"}[name]
    (notice,) = decode_notices(lzma.decompress((LVK / f"{stem}.json.xz").read_bytes()))
    extra = {"map_name": "bayestar", "distmean": 40.0, "diststd": 8.0, "area50": 9.0,
             "area90": 31.0}
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    path = render_skymap(m, tmp_path / f"{name}.png",
                         PlotOptions(panel=panel_lines(notice, extra), title=name))
    return path, kept[0]


def test_the_zoom_has_a_column_of_its_own_and_hides_no_panel_text(maps, tmp_path, monkeypatch):
    """The zoom was drawn over the side panel and hid the classification. Now: a compact map
    (MS181101ab, 90% within ~10 degrees) gets a zoom beside the panel, overlapping none of its
    text; a map spread over 100 degrees (S230518h) gets none (a tangent-plane view that wide
    no longer reads in degrees), and its figure is as wide as before."""
    import matplotlib.image as mpimg

    from skysift.skymaps.plot import INSET_COLUMN

    widths = {}
    for name in ("MS181101ab", "S230518h"):
        path, fig = _rendered(maps[name], tmp_path, monkeypatch, name)
        widths[name] = mpimg.imread(path).shape[1]
        zooms = [a for a in fig.axes if a.get_title().startswith("zoom on the peak")]
        if name == "S230518h":
            assert zooms == []
            continue
        (zoom,) = zooms
        renderer = fig.canvas.get_renderer()
        box = zoom.get_tightbbox(renderer)  # the axes with its ticks, labels and title
        texts = [t for a in fig.axes if not a.axison for t in a.texts if t.get_text()]
        assert len(texts) >= 6  # the panel's labels and values
        for t in texts:
            assert not box.overlaps(t.get_window_extent(renderer)), t.get_text()
    assert widths["MS181101ab"] == pytest.approx(widths["S230518h"] * (1 + INSET_COLUMN), abs=2)
