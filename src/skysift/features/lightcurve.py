"""Lasair-LSST's light-curve features: nights, good sources, the jump detector and pair colours.

Vectorised over every object of a batch like :mod:`skysift.features.photometry`: the diaSources
come in as one :class:`~skysift.features.photometry.SourceArrays` with a group index per row, and
each feature comes out as an array with one value per group (NaN, or None for text, when null).
Definitions, after Lasair-LSST's ``objects`` schema 11_1 and its feature code (the differences
are listed under each):

``nPosDiaSourcesNights``
    Number of distinct nights with at least one diaSource of positive psfFlux. A night is Rubin's
    ``dayObs``: the date of the time 12 hours before, so a night at Cerro Pachon never straddles
    two (``floor(midpointMjdTai - 0.5)``).
``nSourcesGood``
    Number of diaSources with reliability > 0.5.
``jump1``, ``jump2``
    Lasair's jump detector. Let T be the time of the object's latest detection. For each band, the
    *sample* is that band's detections with 10 < T - t < 70 days; a band needs at least 5 of them,
    and a non-zero sample standard deviation s (ddof 1) around their mean m. The band's jump is the
    largest |f - m| / s over its detections with 0 <= T - t < 10 days. ``jump1`` is the largest
    band jump, ``jump2`` the largest in another band; NULL when fewer than one (two) bands
    qualify. (Lasair leaves out the latest detection itself, T - t > 0, and writes 0 rather than
    NULL when there is too little data; a jump detector that cannot see the newest point, and a
    0 that means "unknown", would both mislead a filter, so here the newest point counts and
    unknown is NULL.)
``latestPair*``, ``penultimatePair*``
    A *pair* is two detections of the object consecutive in time, in different bands, less than
    33 minutes apart, both with positive flux. The latest pair is the most recent; the
    penultimate is the most recent that ends before the latest one begins. Of each: ``MJD`` the
    time of its later detection; ``ColourBands`` "bluer-redder" (e.g. ``g-r``); ``ColourMag`` the
    colour in AB magnitudes, -2.5 log10(f_bluer / f_redder); ``ColourTemp`` the temperature in
    kK of the blackbody whose f_nu ratio at the two bands' wavelengths (Lasair's: u 0.380,
    g 0.500, r 0.620, i 0.740, z 0.880, y 1.000 micron) equals the observed one, NULL where no
    temperature between 0.1 and 1000 kK gives it (e.g. bluer than the Rayleigh-Jeans limit). Not
    extinction corrected. (Lasair's code pairs any two consecutive detections within 40 minutes,
    same band included, and its temperature solver fails for half the band orders.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from skysift.features.photometry import SourceArrays
from skysift.store.columns import BANDS

__all__ = [
    "GOOD_RELIABILITY",
    "HC_OVER_K_UM_KK",
    "JUMP_MIN_SAMPLE",
    "PAIR_MAX_DAYS",
    "PAIR_WAVELENGTH_UM",
    "blackbody_shape",
    "blackbody_temperature",
    "lightcurve_features",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

GOOD_RELIABILITY = 0.5
NIGHT_OFFSET_DAYS = 0.5  # dayObs: a night is the date 12 hours earlier
JUMP_TEST_DAYS = 10.0
JUMP_SAMPLE_DAYS = (10.0, 70.0)
JUMP_MIN_SAMPLE = 5
PAIR_MAX_DAYS = 33.0 / (24 * 60)
#: Lasair's wavelengths of the LSST bands (micron) for the pair temperatures.
PAIR_WAVELENGTH_UM: dict[str, float] = {"u": 0.380, "g": 0.500, "r": 0.620, "i": 0.740,
                                        "z": 0.880, "y": 1.000}
#: h c / k in micron kiloKelvin (CODATA 2018: 14387.7688 micron K).
HC_OVER_K_UM_KK = 14.3877687750393
_T_RANGE_KK = (0.1, 1000.0)
_WL = np.array([PAIR_WAVELENGTH_UM[b] for b in BANDS])
_NB = len(BANDS)


def blackbody_shape(wl_um: npt.ArrayLike, t_kk: npt.ArrayLike) -> F64:
    """f_nu of a blackbody up to a constant: ``wl**-3 / (exp(hc / (wl k T)) - 1)``.

    >>> float(blackbody_shape(0.5, 10.0) / blackbody_shape(0.62, 10.0)) > 1   # 10 kK is blue
    True
    """
    wl = np.asarray(wl_um, dtype=float)
    x = np.minimum(HC_OVER_K_UM_KK / (wl * np.asarray(t_kk, dtype=float)), 700.0)
    return np.asarray(wl**-3.0 / np.expm1(x))


def _bnu_ratio(wl1: F64, wl2: F64, t_kk: F64) -> F64:
    """B_nu(wl1, T) / B_nu(wl2, T), wavelengths in micron, T in kK."""
    return np.asarray(blackbody_shape(wl1, t_kk) / blackbody_shape(wl2, t_kk))


def blackbody_temperature(wl_blue: npt.ArrayLike, wl_red: npt.ArrayLike,
                          ratio: npt.ArrayLike) -> F64:
    """Temperatures (kK) of blackbodies with f_nu(wl_blue) / f_nu(wl_red) = ``ratio``.

    Bisection in log T (60 steps: a relative precision of ~1e-16), over 0.1-1000 kK where the
    ratio grows with T; NaN where the ratio is out of that range.

    >>> round(float(blackbody_temperature(0.5, 0.62, _bnu_ratio(0.5, 0.62, 10.0))), 9)
    10.0
    """
    b = np.asarray(wl_blue, dtype=float)
    r = np.asarray(wl_red, dtype=float)
    q = np.asarray(ratio, dtype=float)
    b, r, q = np.broadcast_arrays(b, r, q)
    lo = np.full(q.shape, np.log(_T_RANGE_KK[0]))
    hi = np.full(q.shape, np.log(_T_RANGE_KK[1]))
    ok = (np.isfinite(q) & (q > 0) & (q >= _bnu_ratio(b, r, np.exp(lo)))
          & (q <= _bnu_ratio(b, r, np.exp(hi))))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = _bnu_ratio(b, r, np.exp(mid)) > q
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(ok, np.exp(0.5 * (lo + hi)), np.nan)


def _nights(s: SourceArrays, n_groups: int) -> I64:
    pos = (s.flux > 0) & np.isfinite(s.mjd)
    night = np.floor(s.mjd[pos] - NIGHT_OFFSET_DAYS).astype(np.int64)
    g = s.group[pos]
    if g.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    keys = np.unique(np.stack([g, night], axis=1), axis=0)
    return np.bincount(keys[:, 0], minlength=n_groups).astype(np.int64)


def _jumps(s: SourceArrays, n_groups: int) -> tuple[F64, F64]:
    det = np.isfinite(s.flux) & np.isfinite(s.mjd) & (s.band >= 0)
    g, t, f, band = s.group[det], s.mjd[det], s.flux[det], s.band[det]
    jump1 = np.full(n_groups, np.nan)
    jump2 = np.full(n_groups, np.nan)
    if g.size == 0:
        return jump1, jump2
    latest = np.full(n_groups, -np.inf)
    np.maximum.at(latest, g, t)
    delta = latest[g] - t
    key = g * _NB + band
    n_keys = n_groups * _NB
    sample = (delta > JUMP_SAMPLE_DAYS[0]) & (delta < JUMP_SAMPLE_DAYS[1])
    n = np.bincount(key[sample], minlength=n_keys)
    total = np.bincount(key[sample], weights=f[sample], minlength=n_keys)
    mean = np.divide(total, n, out=np.full(n_keys, np.nan), where=n > 0)
    dev2 = np.bincount(key[sample], weights=(f[sample] - mean[key[sample]]) ** 2,
                       minlength=n_keys)
    sd = np.sqrt(np.divide(dev2, n - 1, out=np.full(n_keys, np.nan), where=n > 1))
    usable = (n >= JUMP_MIN_SAMPLE) & (sd > 0)
    test = (delta >= 0) & (delta < JUMP_TEST_DAYS) & usable[key]
    best = np.full(n_keys, -np.inf)
    np.maximum.at(best, key[test], np.abs(f[test] - mean[key[test]]) / sd[key[test]])
    per_band = np.sort(best.reshape(n_groups, _NB), axis=1)  # ascending; -inf = no jump
    first, second = per_band[:, -1], per_band[:, -2]
    jump1[np.isfinite(first)] = first[np.isfinite(first)]
    jump2[np.isfinite(second)] = second[np.isfinite(second)]
    return jump1, jump2


def _pairs(s: SourceArrays, n_groups: int) -> dict[str, Any]:
    det = np.isfinite(s.flux) & np.isfinite(s.mjd)
    g, t, f, band = s.group[det], s.mjd[det], s.flux[det], s.band[det]
    out: dict[str, Any] = {}
    # a pair ends at row i: rows i-1 and i of one object, consecutive in time
    cand = np.zeros(g.size, dtype=bool)
    if g.size > 1:
        cand[1:] = ((g[1:] == g[:-1]) & (t[1:] - t[:-1] < PAIR_MAX_DAYS)
                    & (band[1:] != band[:-1]) & (band[1:] >= 0) & (band[:-1] >= 0)
                    & (f[1:] > 0) & (f[:-1] > 0))
    rows = np.arange(g.size)
    latest = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(latest, g[cand], rows[cand])
    earlier = cand & (rows <= latest[g] - 2)  # ends before the latest pair begins
    penultimate = np.full(n_groups, -1, dtype=np.int64)
    np.maximum.at(penultimate, g[earlier], rows[earlier])
    for prefix, end in (("latestPair", latest), ("penultimatePair", penultimate)):
        has = end >= 0
        i = end[has]
        b1, b2 = band[i - 1], band[i]
        blue, red = np.minimum(b1, b2), np.maximum(b1, b2)
        f_blue = np.where(b1 < b2, f[i - 1], f[i])
        f_red = np.where(b1 < b2, f[i], f[i - 1])
        ratio = f_blue / f_red
        mjd = np.full(n_groups, np.nan)
        mag = np.full(n_groups, np.nan)
        temp = np.full(n_groups, np.nan)
        mjd[has] = t[i]
        mag[has] = -2.5 * np.log10(ratio)
        temp[has] = blackbody_temperature(_WL[blue], _WL[red], ratio)
        names: list[str | None] = [None] * n_groups
        for k, bl, rd in zip(np.flatnonzero(has).tolist(), blue.tolist(), red.tolist(),
                             strict=True):
            names[k] = f"{BANDS[bl]}-{BANDS[rd]}"
        out[f"{prefix}MJD"] = mjd
        out[f"{prefix}ColourMag"] = mag
        out[f"{prefix}ColourBands"] = names
        out[f"{prefix}ColourTemp"] = temp
    return out


def lightcurve_features(src: SourceArrays, n_groups: int) -> dict[str, Any]:
    """The features above for every group: column name -> array (or list, for text)."""
    s = src.sorted()
    good = np.bincount(s.group, weights=(s.reliability > GOOD_RELIABILITY),
                       minlength=n_groups).astype(np.int64)
    jump1, jump2 = _jumps(s, n_groups)
    return {"nPosDiaSourcesNights": _nights(s, n_groups), "nSourcesGood": good,
            "jump1": jump1, "jump2": jump2, **_pairs(s, n_groups)}
