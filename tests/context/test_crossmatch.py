"""Watchlist crossmatching and uploads: the cone index against astropy, file formats, refusals."""

from __future__ import annotations

import io

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from skysift.context.sky import ConeIndex, separation_arcsec
from skysift.context.upload import MAX_RADIUS_ARCSEC, read_cones
from skysift.errors import ContextError


def _sky(rng, n):
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def test_cone_index_finds_exactly_the_pairs_astropy_finds_with_separations_within_a_milliarcsec():
    rng = np.random.default_rng(20261201)
    n = 6000
    ra, dec = _sky(rng, n)
    ra[:40], dec[:40] = rng.uniform(0, 360, 40), 89.995 - rng.uniform(0, 0.01, 40)  # pole
    ra[40:80], dec[40:80] = 359.9999, rng.uniform(-2, 2, 40)  # RA wrap
    radius = np.exp(rng.uniform(np.log(0.5), np.log(MAX_RADIUS_ARCSEC), n))
    index = ConeIndex(ra, dec, radius)
    # positions scattered around random cones out to twice their radius, plus random ones
    k = rng.integers(0, n, 3000)
    around = SkyCoord(ra[k] * u.deg, dec[k] * u.deg).directional_offset_by(
        rng.uniform(0, 360, k.size) * u.deg, rng.uniform(0, 2, k.size) * radius[k] * u.arcsec)
    pra = np.concatenate([around.ra.deg, _sky(rng, 500)[0]])
    pdec = np.concatenate([around.dec.deg, _sky(rng, 500)[1]])
    found = index.match(pra, pdec)

    cones = SkyCoord(ra * u.deg, dec * u.deg)
    truth = {}
    for p in range(pra.size):  # brute force, every cone, astropy's separation
        sep = SkyCoord(pra[p] * u.deg, pdec[p] * u.deg).separation(cones).arcsec
        for c in np.flatnonzero(sep <= radius):
            truth[(p, int(c))] = sep[c]
    got = {(int(p), int(c)): a for p, c, a in zip(found.position, found.cone, found.arcsec,
                                                  strict=True)}
    assert len(truth) > 1500  # about half the scattered positions fall inside their cone
    assert set(got) == set(truth)
    assert max(abs(got[k] - truth[k]) for k in truth) < 1e-3


def test_separation_matches_astropy_at_tiny_and_antipodal_separations():
    ra1 = np.array([10.0, 10.0, 0.0, 123.4])
    dec1 = np.array([20.0, 20.0, 0.0, -89.9999])
    ra2 = np.array([10.0 + 1e-7, 190.0, 180.0, 303.4])
    dec2 = np.array([20.0, -20.0, 0.0, -89.9999])
    ours = separation_arcsec(ra1, dec1, ra2, dec2)
    theirs = (
        SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).arcsec
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_lasair_text_keeps_good_lines_and_names_each_bad_one():
    text = (b"# my AGN\n"
            b"10.5, -3.25, agn1\n"
            b"\n"
            b"11 | 4 | agn 2 | 5.5   # own radius\n"
            b"400, 0, badra\n"
            b"1, 2, wide, 1800.5\n"
            b"1, 2, fine, 1800\n"
            b"abc, 2, words\n"
            b"7\n")
    cones = read_cones(text, "agn.txt")
    assert (cones.ra, cones.dec, cones.name, cones.radius) == (
        [10.5, 11.0, 1.0], [-3.25, 4.0, 2.0], ["agn1", "agn 2", "fine"], [None, 5.5, 1800.0])
    assert cones.problems == [
        (5, "ra 400.0 is not between 0 and 360 degrees"),
        (6, "radius 1800.5 arcsec is above the largest allowed, 1800"),
        (8, "ra and dec must be numbers (degrees): 'abc', '2'"),
        (9, "expected ra, dec, name[, radius]"),
    ]
    assert cones.problem_text("agn.txt").splitlines()[1] == (
        "agn.txt line 6: radius 1800.5 arcsec is above the largest allowed, 1800")


def _written(table: Table, fmt: str) -> bytes:
    if fmt.startswith("ascii"):
        text = io.StringIO()
        table.write(text, format=fmt)
        return text.getvalue().encode()
    buf = io.BytesIO()
    table.write(buf, format=fmt)
    return buf.getvalue()


def _table() -> Table:
    return Table({"RAJ2000": [150.0, 151.0], "DEJ2000": [2.0, -3.0], "Name": ["a", "b"],
                  "radius": [3.0, 4000.0]})


@pytest.mark.parametrize("fmt,filename", [("ascii.ecsv", "l.ecsv"), ("fits", "l.fits"),
                                          ("votable", "l.xml"), ("ascii.csv", "l.csv")])
def test_tables_astropy_reads_give_the_same_cones(fmt, filename):
    cones = read_cones(_written(_table(), fmt), filename)
    assert (cones.ra, cones.dec, cones.name, cones.radius) == ([150.0], [2.0], ["a"], [3.0])
    row = 3 if fmt == "ascii.csv" else 2  # a CSV's second row is on line 3
    assert cones.problems == [(row, "radius 4000 arcsec is above the largest allowed, 1800")]


def test_a_table_with_units_is_converted_to_degrees_and_arcsec():
    t = Table({"ra": [10.0] * u.hourangle, "dec": [-30.0] * u.deg, "radius": [0.5] * u.arcmin})
    cones = read_cones(_written(t, "ascii.ecsv"), "units.ecsv")
    assert cones.ra == [pytest.approx(150.0, abs=1e-12)] and cones.dec == [-30.0]
    assert cones.radius == [pytest.approx(30.0, abs=1e-12)]


def test_files_that_are_not_cones_are_refused_naming_the_file():
    with pytest.raises(ContextError, match=r"x\.fits cannot be read as a fits table"):
        read_cones(b"SIMPLE  = nonsense", "x.fits")
    with pytest.raises(ContextError, match=r"t\.ecsv has no ra and dec columns \(found: a, b\)"):
        read_cones(_written(Table({"a": [1.0], "b": [2.0]}), "ascii.ecsv"), "t.ecsv")
    with pytest.raises(ContextError, match="neither text"):
        read_cones(b"\xff\xfe\x00bad", "bin.dat")


def test_a_million_cones_are_read_and_indexed():
    rng = np.random.default_rng(7)
    ra, dec = _sky(rng, 1_000_000)
    text = "\n".join(f"{a:.6f},{d:.6f},c{i}" for i, (a, d) in enumerate(zip(ra, dec, strict=True)))
    cones = read_cones(text.encode() + b"\n1,1,one too many\n", "big.txt")
    assert len(cones) == 1_000_000
    assert cones.problems == [(1_000_001, "more than 1,000,000 cones: left out")]
    index = ConeIndex(np.asarray(cones.ra), np.asarray(cones.dec), np.full(len(cones), 2.0))
    hit = index.match(np.array([cones.ra[123456]]), np.array([cones.dec[123456]]))
    assert hit.cone.tolist() == [123456] and hit.arcsec.tolist() == [0.0]
