"""Positions on the sky: exact angular separations and a cone index for crossmatching.

:class:`ConeIndex` answers "which cones contain each of these positions" for up to millions of
cones, vectorised with numpy: every cone is filed under the nested HEALPix pixel of its centre,
at a level whose pixels are at least :data:`PIXEL_TO_RADIUS` times the cone's radius, so every
position within the radius of a centre lies in the centre's pixel or one of its eight
neighbours. Cones of very different radii are kept in separate levels (a 1,800-arcsec cone does
not make the 2-arcsec ones coarse). Candidates are then kept by the exact separation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["ConeIndex", "ConeMatch", "separation_arcsec"]

#: The pixel resolution (square root of the pixel area) of a cone's level is at least this many
#: times its radius; neighbour pixels are then wide enough to hold the whole cone.
PIXEL_TO_RADIUS = 4.0
MAX_LEVEL = 20


def separation_arcsec(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray,
                      dec2: np.ndarray) -> np.ndarray:
    """Angular separation in arcsec between positions given in degrees (Vincenty's formula,
    exact at every separation, as astropy's ``angular_separation``).

    >>> float(separation_arcsec(np.array([10.0]), np.array([0.0]),
    ...                         np.array([10.0]), np.array([1.0]))[0])
    3600.0
    """
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2)
    )
    dlon = lon2 - lon1
    s1, c1 = np.sin(lat1), np.cos(lat1)
    s2, c2 = np.sin(lat2), np.cos(lat2)
    sd, cd = np.sin(dlon), np.cos(dlon)
    num1 = c2 * sd
    num2 = c1 * s2 - s1 * c2 * cd
    den = s1 * s2 + c1 * c2 * cd
    return np.degrees(np.arctan2(np.hypot(num1, num2), den)) * 3600.0


def _level_for(radius_arcsec: np.ndarray) -> np.ndarray:
    """The finest HEALPix level whose resolution is >= PIXEL_TO_RADIUS x radius."""
    # resolution(level) = sqrt(4 pi / (12 * 4**level)) rad
    res0 = np.degrees(np.sqrt(4 * np.pi / 12)) * 3600.0  # level 0, arcsec
    need = np.maximum(radius_arcsec * PIXEL_TO_RADIUS, 1e-3)
    level = np.floor(np.log2(res0 / need)).astype(int)
    return np.clip(level, 0, MAX_LEVEL)


def _pixels(ra: np.ndarray, dec: np.ndarray, level: int) -> np.ndarray:
    import astropy.units as u
    from astropy_healpix import level_to_nside, lonlat_to_healpix

    return np.asarray(lonlat_to_healpix(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg,
                                        level_to_nside(level), order="nested"), dtype=np.int64)


@dataclass(frozen=True)
class ConeMatch:
    """Matches of positions to cones: parallel arrays, one entry per (position, cone) pair."""

    position: np.ndarray  # index into the positions given
    cone: np.ndarray  # index into the cones the index was built from
    arcsec: np.ndarray  # exact separation

    def __len__(self) -> int:
        return int(self.position.size)


class _Level:
    def __init__(self, level: int, members: np.ndarray, ra: np.ndarray, dec: np.ndarray) -> None:
        self.level = level
        pix = _pixels(ra[members], dec[members], level)
        order = np.argsort(pix, kind="stable")
        self.pixels = pix[order]
        self.members = members[order]

    def candidates(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position index, cone index) of every cone filed in a position's pixel or its
        neighbours."""
        from astropy_healpix import level_to_nside, neighbours

        pix = _pixels(ra, dec, self.level)
        with np.errstate(invalid="ignore"):  # -1 marks a missing neighbour
            near = np.asarray(neighbours(pix, level_to_nside(self.level), order="nested"))
        around = np.vstack([pix[None, :], near])
        # a pixel can be its own neighbour's neighbour twice at the 8 corners with 7 neighbours
        # (-1 marks a missing one); duplicates are removed below
        npos = pix.size
        flat = around.T.reshape(-1)
        owner = np.repeat(np.arange(npos), around.shape[0])
        keep = flat >= 0
        flat, owner = flat[keep], owner[keep]
        pair = np.unique(np.stack([owner, flat]), axis=1) if flat.size else np.empty((2, 0), int)
        owner, flat = pair[0], pair[1]
        lo = np.searchsorted(self.pixels, flat, side="left")
        hi = np.searchsorted(self.pixels, flat, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        pos = np.repeat(owner, counts)
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        idx = starts + np.arange(total)
        return pos.astype(np.int64), self.members[idx]


class ConeIndex:
    """Cones (centre in degrees, radius in arcsec) indexed for fast crossmatching.

    >>> idx = ConeIndex(np.array([10.0, 200.0]), np.array([-5.0, 60.0]), np.array([2.0, 30.0]))
    >>> m = idx.match(np.array([10.0, 200.0, 50.0]), np.array([-5.0 + 1.5 / 3600, 60.01, 0.0]))
    >>> m.position.tolist(), m.cone.tolist(), [round(a, 3) for a in m.arcsec.tolist()]
    ([0], [0], [1.5])
    """

    def __init__(self, ra: np.ndarray, dec: np.ndarray, radius_arcsec: np.ndarray) -> None:
        self.ra = np.asarray(ra, dtype=float) % 360.0
        self.dec = np.asarray(dec, dtype=float)
        self.radius = np.asarray(radius_arcsec, dtype=float)
        if not (self.ra.shape == self.dec.shape == self.radius.shape):
            raise ValueError("ra, dec and radius must have the same length")
        levels = _level_for(self.radius) if self.radius.size else np.empty(0, dtype=int)
        self._levels = [_Level(int(lev), np.flatnonzero(levels == lev), self.ra, self.dec)
                        for lev in np.unique(levels)]

    def __len__(self) -> int:
        return int(self.ra.size)

    def match(self, ra: np.ndarray, dec: np.ndarray) -> ConeMatch:
        """Every (position, cone) pair with the position inside the cone (separation <= radius)."""
        ra = np.asarray(ra, dtype=float) % 360.0
        dec = np.asarray(dec, dtype=float)
        parts = list(self._match_levels(ra, dec))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return ConeMatch(empty, empty, np.empty(0))
        pos, cone, arcsec = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.lexsort((cone, pos))
        return ConeMatch(pos[order], cone[order], arcsec[order])

    def _match_levels(self, ra: np.ndarray,
                      dec: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        good = np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0)
        if not good.any() or not self._levels:
            return
        where = np.flatnonzero(good)
        ra, dec = ra[good], dec[good]
        for level in self._levels:
            pos, cone = level.candidates(ra, dec)
            if not pos.size:
                continue
            sep = separation_arcsec(ra[pos], dec[pos], self.ra[cone], self.dec[cone])
            inside = sep <= self.radius[cone]
            yield where[pos[inside]], cone[inside], sep[inside]
