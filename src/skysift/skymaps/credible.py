"""Credible levels, credible-region areas and the peak of a multi-order sky map.

Every quantity here is computed on the native multi-order pixels (never on a flattened copy, whose
areas depend on the resolution chosen). Pixels are ranked by probability *density*, descending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skysift.skymaps.multiorder import MultiOrderMap

__all__ = [
    "SR_TO_DEG2",
    "Peak",
    "credible_area",
    "credible_areas",
    "credible_levels",
    "peak",
    "region_mask",
]

SR_TO_DEG2 = (180.0 / np.pi) ** 2


def _order(m: MultiOrderMap) -> np.ndarray:
    return np.argsort(-m.probdensity, kind="stable")


def credible_levels(m: MultiOrderMap) -> np.ndarray:
    """The credible level of each row: the probability of all pixels at least as dense, inclusive.

    This is the ``searched_prob`` of ``ligo.skymap`` (and skyTag's CUMPROB): the densest pixel's
    level is its own probability, and levels never decrease as density decreases.

    Examples
    --------
    >>> levels = credible_levels(m)                # doctest: +SKIP
    """
    order = _order(m)
    cum = np.cumsum(m.prob[order])
    out = np.empty_like(cum)
    out[order] = cum
    return out


def region_mask(m: MultiOrderMap, level: float, levels: np.ndarray | None = None) -> np.ndarray:
    """Rows inside the ``level`` credible region: cumulative probability strictly below ``level``.

    This is the LVK user-guide rule (the pixel that crosses the threshold is left out); the
    credible areas, the MOC regions and the plot contours all use it.
    """
    levels = credible_levels(m) if levels is None else levels
    return levels < level


def credible_area(m: MultiOrderMap, level: float, levels: np.ndarray | None = None) -> float:
    """Area in deg² of the ``level`` credible region (see :func:`region_mask`)."""
    mask = region_mask(m, level, levels)
    return float(m.pixel_area[mask].sum() * SR_TO_DEG2)


def credible_areas(
    m: MultiOrderMap, levels: tuple[float, ...] = (0.1, 0.5, 0.9)
) -> dict[float, float]:
    """Areas in deg² of several credible regions, computed with one sort."""
    cl = credible_levels(m)
    return {lev: credible_area(m, lev, cl) for lev in levels}


@dataclass(frozen=True)
class Peak:
    """The densest pixel: its row and centre (degrees, ICRS)."""

    row: int
    ra: float
    dec: float


def peak(m: MultiOrderMap) -> Peak:
    """Centre of the pixel with the highest probability density."""
    from astropy_healpix import healpix_to_lonlat, level_to_nside

    row = int(np.argmax(m.probdensity))
    lon, lat = healpix_to_lonlat(m.ipix[row], level_to_nside(int(m.level[row])), order="nested")
    return Peak(row, float(lon.deg), float(lat.deg))
