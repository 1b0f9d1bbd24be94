"""Sky-position features: galactic latitude and the HEALPix index used for cone searches.

Both are vectorised over numpy arrays of ICRS (ra, dec) in degrees.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy_healpix import lonlat_to_healpix

__all__ = [
    "GALACTIC_POLE_ICRS",
    "HEALPIX_NSIDE",
    "HEALPIX_ORDER",
    "galactic_latitude",
    "healpix_index",
]

#: HEALPix order of ``objects.healpix`` (nested scheme); nside = 2**order, pixels ~12.9 arcsec.
HEALPIX_ORDER = 14
HEALPIX_NSIDE = 2**HEALPIX_ORDER

#: Unit vector (ICRS, cartesian) of the north galactic pole, as astropy's ``Galactic`` frame
#: places it (ra 192.8594779 deg, dec 27.1282524 deg). Tests check this against astropy.
GALACTIC_POLE_ICRS = np.array([-0.8676661375596585, -0.19807633727300056, 0.45598381368730206])


def galactic_latitude(ra: npt.ArrayLike, dec: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Galactic latitude b of ICRS positions, in degrees.

    ``sin b`` is the dot product of the position's unit vector with the galactic pole's and
    ``cos b`` the norm of their cross product (atan2 of the two stays accurate near the poles);
    this matches ``SkyCoord(ra, dec).galactic.b`` to about 1e-13 degree.

    Parameters
    ----------
    ra, dec
        ICRS right ascension and declination in degrees (arrays of one shape; NaN gives NaN).

    Examples
    --------
    >>> round(float(galactic_latitude(192.8594779, 27.1282524)), 5)
    90.0
    >>> round(float(galactic_latitude(266.405, -28.936)), 3)   # the galactic centre
    0.0
    """
    a = np.radians(np.asarray(ra, dtype=np.float64))
    d = np.radians(np.asarray(dec, dtype=np.float64))
    cos_d = np.cos(d)
    ux, uy, uz = cos_d * np.cos(a), cos_d * np.sin(a), np.sin(d)
    px, py, pz = GALACTIC_POLE_ICRS
    # element-wise arithmetic only (no BLAS), so a value never depends on the array's shape
    sin_b = px * ux + py * uy + pz * uz
    cx, cy, cz = uy * pz - uz * py, uz * px - ux * pz, ux * py - uy * px
    cos_b = np.sqrt(cx * cx + cy * cy + cz * cz)
    return np.degrees(np.arctan2(sin_b, cos_b))


def healpix_index(ra: npt.ArrayLike, dec: npt.ArrayLike,
                  order: int = HEALPIX_ORDER) -> npt.NDArray[np.int64]:
    """Nested HEALPix pixel index of ICRS positions (via astropy-healpix).

    Parameters
    ----------
    ra, dec
        Degrees; every value must be finite.
    order
        HEALPix order (nside = 2**order); :data:`HEALPIX_ORDER` by default.

    Examples
    --------
    >>> [int(p) for p in healpix_index([45.0, 135.0], [10.0, 10.0], order=0)]
    [0, 1]
    """
    lon = np.asarray(ra, dtype=np.float64) * u.deg
    lat = np.asarray(dec, dtype=np.float64) * u.deg
    pix = lonlat_to_healpix(lon, lat, 2**order, order="nested")
    return np.asarray(pix, dtype=np.int64)
