"""objects.ebv from an SFD dust map, in both forms it comes in: the NGP/SGP pair of ZEA images
and one HEALPix file. The maps here are small ones written in the same format (the real files are
2 x 64 MB and cannot be downloaded here), filled with a known function of galactic (l, b)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from astropy_healpix import HEALPix
from rubin_alerts import grown_light_curves

from skysift.errors import ConfigError
from skysift.features.dust import ZEA_FILES, open_dust_map
from skysift.features.update import store_alerts

N = 256  # pixels on a side (the real maps: 4096)
SCALE = 0.0395646818624 * 4096 / N  # deg per pixel, as SFD's CD matrix at this size


def truth(lon_deg, lat_deg):
    """A made-up E(B-V) (mag), smooth everywhere on the sphere (poles included)."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    x, y, z = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    return 0.05 + 0.03 * x + 0.02 * z**2 + 0.04 * x * y


def write_zea_pair(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for sign, name in ZEA_FILES.items():
        h = fits.Header()
        h["CTYPE1"], h["CTYPE2"] = "GLON-ZEA", "GLAT-ZEA"
        h["CRPIX1"] = h["CRPIX2"] = (N + 1) / 2
        h["CRVAL1"], h["CRVAL2"] = 0.0, 90.0 * sign
        h["CD1_1"], h["CD1_2"], h["CD2_1"] = -SCALE * sign, 0.0, 0.0
        h["CD2_2"] = SCALE * sign
        h["LONPOLE"] = 180.0
        h["LAM_NSGP"], h["LAM_SCAL"] = sign, N // 2
        wcs = WCS(h)
        yy, xx = np.mgrid[0:N, 0:N]
        lon, lat = wcs.all_pix2world(xx.ravel(), yy.ravel(), 0)
        data = truth(lon, lat).reshape(N, N).astype(np.float32)
        fits.PrimaryHDU(data, header=h).writeto(folder / name, overwrite=True)
    return folder


def _icrs(lon, lat):
    c = SkyCoord(l=np.asarray(lon) * u.deg, b=np.asarray(lat) * u.deg, frame="galactic").icrs
    return c.ra.deg, c.dec.deg


def test_zea_pair_is_exact_at_pixel_centres_and_close_between(tmp_path):
    folder = write_zea_pair(tmp_path / "sfd")
    dust = open_dust_map(folder)
    assert dust is not None
    rng = np.random.default_rng(3)
    for sign, name in ZEA_FILES.items():
        with fits.open(folder / name) as hdul:
            data, wcs = hdul[0].data.astype(float), WCS(hdul[0].header)
        # pixel centres well inside the hemisphere (|b| > 1 deg)
        x, y = rng.integers(20, N - 20, 300), rng.integers(20, N - 20, 300)
        lon, lat = wcs.all_pix2world(x, y, 0)
        keep = sign * lat > 1
        ra, dec = _icrs(lon[keep], lat[keep])
        got = dust.ebv(ra, dec)
        assert np.allclose(got, data[y[keep], x[keep]], rtol=0, atol=1e-6)
    # anywhere on the sky: the function the maps were filled with, to interpolation accuracy
    ra = rng.uniform(0, 360, 2000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    g = SkyCoord(ra * u.deg, dec * u.deg).galactic
    assert np.abs(dust.ebv(ra, dec) - truth(g.l.deg, g.b.deg)).max() < 2e-5
    assert np.isnan(dust.ebv([np.nan], [10.0])[0])


def test_healpix_file_gives_the_value_of_the_pixel_holding_the_position(tmp_path):
    nside = 64
    hp = HEALPix(nside=nside, order="ring")
    values = np.arange(12 * nside * nside, dtype=np.float64) * 1e-4
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="TEMPERATURE", format="D", array=values)])
    hdu.header.update(PIXTYPE="HEALPIX", ORDERING="RING", NSIDE=nside, COORDSYS="G")
    path = tmp_path / "lambda_sfd_ebv.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    dust = open_dust_map(path)
    pix = np.array([0, 1, 500, 12 * nside * nside - 1, 30_000])
    lon, lat = hp.healpix_to_lonlat(pix)
    ra, dec = _icrs(lon.deg, lat.deg)
    assert np.allclose(dust.ebv(ra, dec), pix * 1e-4, rtol=0, atol=1e-12)


def test_a_path_that_is_not_a_dust_map_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist"):
        open_dust_map(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    with pytest.raises(ConfigError, match=r"has no SFD_dust_4096_ngp.fits"):
        open_dust_map(tmp_path / "half")
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(tmp_path / "image.fits")
    with pytest.raises(ConfigError, match=r"neither a folder with the SFD ZEA pair nor a HEALPix"):
        open_dust_map(tmp_path / "image.fits")
    assert open_dust_map(None) is None


@pytest.fixture
def engine(store_url):
    from skysift.store.database import open_store

    eng = open_store(store_url)
    yield eng
    eng.dispose()


def test_stored_objects_get_ebv_at_their_position(engine, tmp_path):
    dust = open_dust_map(write_zea_pair(tmp_path / "sfd"))
    alerts = grown_light_curves(4, 2, seed=12)
    with engine.begin() as conn:
        result = store_alerts(conn, alerts, dust=dust)
        without = store_alerts(conn, grown_light_curves(1, 1, seed=13, first_object_id=7 * 10**17))
    for row in result.rows.values():
        g = SkyCoord(row["ra"] * u.deg, row["decl"] * u.deg).galactic
        assert row["ebv"] == pytest.approx(float(truth(g.l.deg, g.b.deg)), abs=2e-5)
    assert all(r["ebv"] is None for r in without.rows.values())
