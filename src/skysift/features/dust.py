"""Galactic dust reddening E(B-V) of Schlegel, Finkbeiner & Davis (1998), for ``objects.ebv``.

The operator points the setting ``sfd_dust_map`` at one of the two forms the SFD map is
distributed in:

* a folder with ``SFD_dust_4096_ngp.fits`` and ``SFD_dust_4096_sgp.fits``, the original
  4096x4096 Lambert zenithal-equal-area (ZEA) projections of the north and south galactic
  hemispheres (what ``dustmaps`` downloads and Lasair reads through ``dustmaps.sfd.SFDQuery``).
  Values are interpolated bilinearly between pixel centres, as SFDQuery does by default;
* one HEALPix FITS file in galactic coordinates (LAMBDA's ``lambda_sfd_ebv.fits``, Nside 1024):
  the value of the pixel the position falls in.

Values are SFD's E(B-V) in magnitudes, not rescaled (Schlafly & Finkbeiner 2011 recommend
multiplying by 0.86 for their recalibration; do it in the filter if you want it). Without the
setting, ``ebv`` is NULL. The files are memory-mapped: a worker reads only the pages it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skysift.errors import ConfigError

__all__ = ["DustMap", "open_dust_map"]

F64 = npt.NDArray[np.float64]

ZEA_FILES = {1: "SFD_dust_4096_ngp.fits", -1: "SFD_dust_4096_sgp.fits"}


def _galactic(ra: F64, dec: F64) -> tuple[F64, F64]:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    g = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").galactic
    return np.asarray(g.l.deg), np.asarray(g.b.deg)


class DustMap:
    """E(B-V) at ICRS positions; open with :func:`open_dust_map`."""

    def __init__(self, source: str, lookup: Any) -> None:
        self.source = source
        self._lookup = lookup

    def __repr__(self) -> str:
        return f"DustMap({self.source!r})"

    def ebv(self, ra: npt.ArrayLike, dec: npt.ArrayLike) -> F64:
        """E(B-V) (mag) at each (ra, dec) in degrees; NaN where a position is not finite."""
        ra_ = np.atleast_1d(np.asarray(ra, dtype=float))
        dec_ = np.atleast_1d(np.asarray(dec, dtype=float))
        out = np.full(ra_.shape, np.nan)
        ok = np.isfinite(ra_) & np.isfinite(dec_)
        if ok.any():
            lon, lat = _galactic(ra_[ok], dec_[ok])
            out[ok] = self._lookup(lon, lat)
        return out


def _bilinear(data: npt.NDArray[Any], x: F64, y: F64) -> F64:
    """Bilinear interpolation at 0-based pixel coordinates (x along columns), edges clamped."""
    ny, nx = data.shape
    x = np.clip(x, 0, nx - 1)
    y = np.clip(y, 0, ny - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), nx - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), ny - 2)
    fx, fy = x - x0, y - y0
    v00, v01 = data[y0, x0], data[y0, x0 + 1]
    v10, v11 = data[y0 + 1, x0], data[y0 + 1, x0 + 1]
    return np.asarray((v00 * (1 - fx) * (1 - fy) + v01 * fx * (1 - fy)
                       + v10 * (1 - fx) * fy + v11 * fx * fy), dtype=float)


def _open_zea(folder: Path) -> DustMap:
    from astropy.io import fits
    from astropy.wcs import WCS

    halves: dict[int, tuple[npt.NDArray[Any], Any]] = {}
    for sign, name in ZEA_FILES.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"sfd_dust_map: {folder} has no {name} (the SFD map is two files, "
                              f"{ZEA_FILES[1]} and {ZEA_FILES[-1]})")
        hdul = fits.open(path, memmap=True)
        hdu = hdul[0]
        if hdu.data is None or hdu.data.ndim != 2:
            raise ConfigError(f"sfd_dust_map: {path} holds no 2-d image")
        halves[sign] = (hdu.data, WCS(hdu.header))

    def lookup(lon: F64, lat: F64) -> F64:
        out = np.empty(lon.shape)
        for sign, (data, wcs) in halves.items():
            here = lat >= 0 if sign == 1 else lat < 0
            if here.any():
                x, y = wcs.all_world2pix(lon[here], lat[here], 0)
                out[here] = _bilinear(data, np.asarray(x), np.asarray(y))
        return out

    return DustMap(str(folder), lookup)


def _open_healpix(path: Path) -> DustMap:
    import astropy.units as u
    from astropy.io import fits
    from astropy_healpix import HEALPix

    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul[1:]:
            header = hdu.header
            if str(header.get("PIXTYPE", "")).upper() == "HEALPIX":
                break
        else:
            raise ConfigError(f"sfd_dust_map: {path} is neither a folder with the SFD ZEA pair "
                              "nor a HEALPix FITS file (no PIXTYPE = 'HEALPIX' table)")
        coordsys = str(header.get("COORDSYS", "G")).upper()[:1]
        if coordsys != "G":
            raise ConfigError(f"sfd_dust_map: {path} is in coordinates {coordsys!r}; a galactic "
                              "(COORDSYS = 'G') map is needed")
        values = np.asarray(hdu.data.field(0), dtype=np.float64).ravel()
        nside = int(header["NSIDE"])
        order = str(header.get("ORDERING", "RING")).lower()
    if values.size != 12 * nside * nside:
        raise ConfigError(f"sfd_dust_map: {path} has {values.size} values, not 12 * {nside}^2")
    hp = HEALPix(nside=nside, order=order)

    def lookup(lon: F64, lat: F64) -> F64:
        return np.asarray(values[hp.lonlat_to_healpix(lon * u.deg, lat * u.deg)])

    return DustMap(str(path), lookup)


def open_dust_map(path: str | Path | None) -> DustMap | None:
    """The dust map at ``path`` (see the module docs), or None when ``path`` is None."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.is_dir():
        return _open_zea(p)
    if p.is_file():
        return _open_healpix(p)
    raise ConfigError(f"sfd_dust_map: {p} does not exist")
