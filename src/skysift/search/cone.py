"""Cone search over ``objects`` using its nested HEALPix index (order 14).

The cone is covered with HEALPix pixels at a coarse order chosen so that a handful of pixels
cover it (astropy-healpix returns every pixel that overlaps the cone, even partially). Each
coarse pixel is one contiguous range of order-14 nested indices, so the store is asked for a few
``healpix BETWEEN a AND b`` ranges (served by the index on ``objects.healpix``), whatever the
radius. The candidates are then cut exactly by their angular separation from the centre.

Examples
--------
>>> cone_ranges(0.0, 90.0, 1.0 / 3600)[:1]  # doctest: +ELLIPSIS
[(..., ...)]
>>> round(float(separation_arcsec(10.0, 20.0, 10.0, 20.001)), 3)
3.6
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from skysift.errors import StoreError
from skysift.features.sky import HEALPIX_ORDER
from skysift.store.schema import objects

__all__ = ["MAX_RADIUS_ARCSEC", "ConeMatch", "cone_ranges", "cone_search", "separation_arcsec"]

#: Lasair's largest cone radius, in arcseconds.
MAX_RADIUS_ARCSEC = 1000.0
#: Pixel side of order 0 is about 58.6 degrees; order k is 58.6 / 2**k.
_ORDER0_DEG = 58.6
#: Safety margin added to the radius when choosing pixels (the exact cut comes after).
_MARGIN = 1.01


@dataclass(frozen=True)
class ConeMatch:
    """One object inside the cone: its diaObjectId and its separation in arcseconds."""

    diaObjectId: int
    separation: float


def separation_arcsec(ra1: npt.ArrayLike, dec1: npt.ArrayLike, ra2: npt.ArrayLike,
                      dec2: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Angular separation in arcseconds (Vincenty's formula: exact at all distances).

    All arguments are degrees; arrays broadcast.
    """
    a1, d1 = np.radians(np.asarray(ra1, dtype=float)), np.radians(np.asarray(dec1, dtype=float))
    a2, d2 = np.radians(np.asarray(ra2, dtype=float)), np.radians(np.asarray(dec2, dtype=float))
    dra = a2 - a1
    sd1, cd1, sd2, cd2 = np.sin(d1), np.cos(d1), np.sin(d2), np.cos(d2)
    num1 = cd2 * np.sin(dra)
    num2 = cd1 * sd2 - sd1 * cd2 * np.cos(dra)
    den = sd1 * sd2 + cd1 * cd2 * np.cos(dra)
    return np.degrees(np.arctan2(np.hypot(num1, num2), den)) * 3600.0


def _coarse_order(radius_deg: float) -> int:
    if radius_deg <= 0:
        return HEALPIX_ORDER
    order = math.floor(math.log2(_ORDER0_DEG / radius_deg))
    return max(0, min(HEALPIX_ORDER, order))


def cone_ranges(ra: float, dec: float, radius_deg: float) -> list[tuple[int, int]]:
    """Inclusive ranges of order-14 nested HEALPix indices that cover the cone, merged."""
    import astropy.units as u
    from astropy_healpix import HEALPix

    order = _coarse_order(radius_deg)
    hp = HEALPix(nside=2**order, order="nested")
    radius = max(radius_deg * _MARGIN, 1e-9)
    pixels = np.unique(hp.cone_search_lonlat(ra * u.deg, dec * u.deg, radius * u.deg))
    shift = 2 * (HEALPIX_ORDER - order)
    ranges: list[tuple[int, int]] = []
    for p in pixels.tolist():
        lo, hi = p << shift, ((p + 1) << shift) - 1
        if ranges and ranges[-1][1] + 1 == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges


def cone_search(
    conn: sa.Connection, ra: float, dec: float, radius_arcsec: float
) -> list[ConeMatch]:
    """Every object within ``radius_arcsec`` of (ra, dec), nearest first (ties: smaller id).

    Parameters
    ----------
    conn
        A connection to the store.
    ra, dec
        Centre, ICRS degrees: ra in [0, 360], dec in [-90, 90].
    radius_arcsec
        Radius in arcseconds, > 0 and at most :data:`MAX_RADIUS_ARCSEC`.

    Raises
    ------
    ValueError
        An argument is out of range or not finite.
    StoreError
        The database failed.
    """

    for name, value, lo, hi in (("ra", ra, 0.0, 360.0), ("dec", dec, -90.0, 90.0),
                                ("radius", radius_arcsec, 0.0, MAX_RADIUS_ARCSEC)):
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{name} must be a number in [{lo:g}, {hi:g}], not {value!r}")
    if radius_arcsec <= 0:
        raise ValueError("radius must be positive")
    ranges = cone_ranges(ra, dec, radius_arcsec / 3600.0)
    hpx = objects.c.healpix
    where = sa.or_(*(hpx.between(lo, hi) if lo != hi else hpx == lo for lo, hi in ranges))
    stmt = sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl).where(where)
    try:
        rows = conn.execute(stmt).all()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cone search failed: {exc.__class__.__name__}") from exc
    rows = [r for r in rows if r[1] is not None and r[2] is not None]
    if not rows:
        return []
    sep = separation_arcsec(ra, dec, [r[1] for r in rows], [r[2] for r in rows])
    found = [ConeMatch(int(r[0]), float(s)) for r, s in zip(rows, sep.tolist(), strict=True)
             if s <= radius_arcsec]
    found.sort(key=lambda m: (m.separation, m.diaObjectId))
    return found
