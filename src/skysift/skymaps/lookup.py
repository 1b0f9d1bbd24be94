"""Which multi-order pixel contains a sky position."""

from __future__ import annotations

import numpy as np

from skysift.skymaps.multiorder import MultiOrderMap

__all__ = ["rows_at"]


def rows_at(m: MultiOrderMap, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Row index of the pixel of ``m`` that contains each (RA, Dec) in degrees.

    Each position is indexed at the map's finest order; the rows' pixel ranges at that order are
    sorted, so a ``searchsorted`` finds the owner.

    Examples
    --------
    >>> rows = rows_at(m, np.array([194.3]), np.array([-17.86]))     # doctest: +SKIP
    """
    import astropy.units as u
    from astropy_healpix import level_to_nside, lonlat_to_healpix

    top = m.max_level
    starts = np.left_shift(m.ipix, 2 * (top - m.level))
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    ra = np.asarray(ra_deg, dtype=float)
    dec = np.asarray(dec_deg, dtype=float)
    idx = lonlat_to_healpix(ra * u.deg, dec * u.deg, level_to_nside(top), order="nested")
    pos = np.searchsorted(sorted_starts, np.asarray(idx, dtype=np.int64), side="right") - 1
    return order[pos]
