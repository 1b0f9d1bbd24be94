"""Light-curve features of many objects at once, vectorised with numpy.

The diaSources of every object of a batch go in as one set of columns (:class:`SourceArrays`, with a
group index per row); each feature comes out as one array with a value per group. Rows are sorted
inside by (group, midpointMjdTai, diaSourceId), so results do not depend on input order, and sums
run in that order, so they are reproducible to the last bit.

Estimators (the names are Lasair's ``objects`` columns):

- ``{band}_psfFluxMean``: inverse-variance weighted mean of psfFlux, weights 1/psfFluxErr**2, over
  sources with finite psfFlux and finite psfFluxErr > 0 -- the estimator Rubin's ap_association
  uses for the diaObject column of the same name. (Rubin's nansum also counts the weight of a
  source whose flux is NaN; here such a source is left out of both sums.)
- ``{band}_psfFluxMeanErr``: 1/sqrt(sum of weights), the standard error of that mean.
- ``medianR``: median of the non-null reliabilities (numpy's median: mean of the two middle values).
- ``latest*``: the source with the greatest (midpointMjdTai, diaSourceId).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from skysift.store.columns import BANDS

__all__ = ["BANDS", "BAND_CODE", "SourceArrays", "photometry_features"]

BAND_CODE: dict[str | None, int] = {b: i for i, b in enumerate(BANDS)}
_NB = len(BANDS)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class SourceArrays:
    """The diaSources of one or more objects, as columns (NaN where a value is null).

    Attributes
    ----------
    group
        Index of the object each row belongs to, ``0 <= group < n_groups``.
    source_id, mjd, band, flux, flux_err, reliability, ra, dec
        diaSourceId, midpointMjdTai, band code (index in :data:`BANDS`, -1 unknown), psfFlux,
        psfFluxErr, reliability, ra, dec.
    """

    group: I64
    source_id: I64
    mjd: F64
    band: I64
    flux: F64
    flux_err: F64
    reliability: F64
    ra: F64
    dec: F64

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]], groups: Iterable[int]) -> SourceArrays:
        """Build from tuples ``(diaSourceId, midpointMjdTai, band, psfFlux, psfFluxErr,
        reliability, ra, dec)`` and the group index of each."""
        cols = list(zip(*rows, strict=True)) or [()] * 8

        def f(i: int) -> F64:
            return np.array(cols[i], dtype=np.float64)

        return cls(
            group=np.fromiter(groups, dtype=np.int64, count=len(cols[0])),
            source_id=np.array(cols[0], dtype=np.int64),
            mjd=f(1),
            band=np.array([BAND_CODE.get(b, -1) for b in cols[2]], dtype=np.int64),
            flux=f(3), flux_err=f(4), reliability=f(5), ra=f(6), dec=f(7),
        )

    @classmethod
    def from_dicts(cls, sources: Iterable[Mapping[str, Any]]) -> SourceArrays:
        """Build from diaSource dicts (Rubin field names), all in group 0."""
        rows = [
            (s["diaSourceId"], s.get("midpointMjdTai"), s.get("band"), s.get("psfFlux"),
             s.get("psfFluxErr"), s.get("reliability"), s.get("ra"), s.get("dec"))
            for s in sources
        ]
        return cls.from_rows(rows, [0] * len(rows))

    #: True for what :meth:`sorted` returns (the feature functions then sort nothing again).
    ordered: bool = field(default=False, compare=False, repr=False)

    def sorted(self) -> SourceArrays:
        """A copy ordered by (group, midpointMjdTai, diaSourceId); itself when it is one."""
        if self.ordered:
            return self
        order = np.lexsort((self.source_id, self.mjd, self.group))
        return SourceArrays(**{k: getattr(self, k)[order] for k in self.__dataclass_fields__
                               if k != "ordered"}, ordered=True)


def _at(values: F64, index: I64, present: npt.NDArray[np.bool_]) -> F64:
    out = np.full(index.shape, np.nan)
    out[present] = values[index[present]]
    return out


def _group_median(values: F64, group: I64, n_groups: int) -> F64:
    ok = np.isfinite(values)
    v, g = values[ok], group[ok]
    order = np.lexsort((v, g))
    v = v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    out = np.full(n_groups, np.nan)
    out[has] = 0.5 * (v[lo[has]] + v[hi[has]])
    return out


def _last_index(keys: I64, n_keys: int) -> I64:
    """Index of the last row of each key (rows already in time order); -1 where none."""
    last = np.full(n_keys, -1, dtype=np.int64)
    np.maximum.at(last, keys, np.arange(keys.size, dtype=np.int64))
    return last


def photometry_features(src: SourceArrays, n_groups: int) -> dict[str, npt.NDArray[Any]]:
    """Per-object light-curve features (Lasair ``objects`` names) of every group.

    Parameters
    ----------
    src
        The sources of all groups, any order.
    n_groups
        Number of objects; groups without sources get zero counts and NaN values.

    Returns
    -------
    dict
        Column name -> array of length ``n_groups`` (float arrays use NaN for null; counts are
        int64), plus ``_ra_latest`` / ``_dec_latest`` (position of the latest source).
    """
    s = src.sorted()
    g = s.group
    counts = np.bincount(g, minlength=n_groups)
    has = counts > 0
    ends = np.cumsum(counts) - 1
    starts = ends - counts + 1
    out: dict[str, npt.NDArray[Any]] = {
        "firstDiaSourceMjdTai": _at(s.mjd, starts, has),
        "lastDiaSourceMjdTai": _at(s.mjd, ends, has),
        "latest_psfFlux": _at(s.flux, ends, has),
        "nDiaSources": counts.astype(np.int64),
        "nPosDiaSources": np.bincount(g, weights=(s.flux > 0), minlength=n_groups).astype(
            np.int64),
        "latestR": _at(s.reliability, ends, has),
        "medianR": _group_median(s.reliability, g, n_groups),
        "_ra_latest": _at(s.ra, ends, has),
        "_dec_latest": _at(s.dec, ends, has),
    }

    n_keys = n_groups * _NB
    banded = s.band >= 0
    key = g[banded] * _NB + s.band[banded]
    mjd_b, flux_b, err_b = s.mjd[banded], s.flux[banded], s.flux_err[banded]
    n_band = np.bincount(key, minlength=n_keys).reshape(n_groups, _NB)
    last = _last_index(key, n_keys)
    present = last >= 0
    latest_flux = _at(flux_b, last, present).reshape(n_groups, _NB)
    latest_mjd = _at(mjd_b, last, present).reshape(n_groups, _NB)

    good = np.isfinite(flux_b) & np.isfinite(err_b) & (err_b > 0)
    w = np.zeros_like(err_b)
    w[good] = 1.0 / err_b[good] ** 2
    wf = np.where(good, w * np.where(good, flux_b, 0.0), 0.0)
    sum_w = np.bincount(key, weights=w, minlength=n_keys)
    sum_wf = np.bincount(key, weights=wf, minlength=n_keys)
    pos = sum_w > 0
    mean = np.full(n_keys, np.nan)
    mean_err = np.full(n_keys, np.nan)
    mean[pos] = sum_wf[pos] / sum_w[pos]
    mean_err[pos] = np.sqrt(1.0 / sum_w[pos])
    mean_2d, mean_err_2d = mean.reshape(n_groups, _NB), mean_err.reshape(n_groups, _NB)

    for i, b in enumerate(BANDS):
        out[f"n{b}Sources"] = n_band[:, i].astype(np.int64)
        out[f"{b}_psfFlux"] = latest_flux[:, i]
        out[f"{b}_latestMJD"] = latest_mjd[:, i]
        out[f"{b}_psfFluxMean"] = mean_2d[:, i]
        out[f"{b}_psfFluxMeanErr"] = mean_err_2d[:, i]
    return out
