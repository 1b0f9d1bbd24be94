"""The ``objects`` row of an object: computed features plus the diaObject's own columns.

:func:`compute_features` is the pure, one-object entry point; :func:`compute_features_many` does a
whole batch in one vectorised pass (the store uses it). Both give identical values.

Position: ``ra``/``decl`` are the diaObject's ``ra``/``dec`` when a diaObject is known, else the
latest diaSource's. ``glat`` and ``healpix`` follow from them. Values that are NaN are returned as
``None`` (SQL NULL), identically on SQLite and PostgreSQL; so are infinities and non-numbers in
the diaObject's own columns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skysift.features.bbb import BBB_COLUMNS, fit_bbb
from skysift.features.dust import DustMap
from skysift.features.htm import htm_id
from skysift.features.lightcurve import lightcurve_features
from skysift.features.photometry import SourceArrays, photometry_features
from skysift.features.sky import galactic_latitude, healpix_index
from skysift.store.columns import COMPUTED_COLUMNS, DIAOBJECT_COLUMNS

__all__ = ["FEATURE_COLUMNS", "compute_features", "compute_features_many"]

log = logging.getLogger(__name__)

#: The columns :func:`compute_features` returns, in table order.
FEATURE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COMPUTED_COLUMNS + DIAOBJECT_COLUMNS)
_INT_DIAOBJECT = tuple(c.name for c in DIAOBJECT_COLUMNS if c.type == "int")
#: Columns that have their place but need data skysift does not have yet (always NULL here).
_NOT_YET = ("BBBPeakAbsMag", "absMag", "absMagMJD", "tns_name")
_FLOAT_DIAOBJECT = tuple(c.name for c in DIAOBJECT_COLUMNS if c.type == "float")


def _clean(value: Any) -> float | None:
    """A diaObject float as stored: NULL for NaN, infinities and non-numbers.

    >>> [_clean(v) for v in (1.5, float("nan"), float("inf"), "3", True, 2)]
    [1.5, None, None, None, None, 2.0]
    """
    if type(value) is float:  # the common case first: x - x is 0.0 unless x is NaN or infinite
        return value if value - value == 0.0 else None
    if value is None or type(value) is bool or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value - value == 0.0 else None


def _clean_int(value: Any) -> int | None:
    """A diaObject integer as stored: NULL for non-integers (the store NULLs the too large)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def compute_features(sources: list[dict[str, Any]], forced: list[dict[str, Any]],
                     dia_object: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``objects`` columns of one object from its light curve and latest diaObject.

    Parameters
    ----------
    sources
        Every diaSource of the object (Rubin field names), any order; duplicates by diaSourceId
        are not removed here.
    forced
        The object's diaForcedSources. Not used by the current features (the forced-photometry
        means come with the diaObject); accepted so callers need not change when they are.
    dia_object
        The diaObject record to copy (``None`` when unknown).

    Returns
    -------
    dict
        Every filterable ``objects`` column (:data:`FEATURE_COLUMNS`), None for unknown values.
    """
    del forced  # reserved, see above
    object_id = None
    if dia_object is not None:
        object_id = dia_object.get("diaObjectId")
    if object_id is None and sources:
        object_id = sources[0].get("diaObjectId")
    arrays = SourceArrays.from_dicts(sources)
    return compute_features_many(arrays, [object_id], [dia_object])[0]


def compute_features_many(arrays: SourceArrays, object_ids: Sequence[int | None],
                          dia_objects: Sequence[Mapping[str, Any] | None], *,
                          bbb: bool = True, bbb_budget_s: float | None = None,
                          bbb_previous: Mapping[str, np.ndarray] | None = None,
                          dust: DustMap | None = None) -> list[dict[str, Any]]:
    """The ``objects`` columns of many objects in one vectorised pass.

    Parameters
    ----------
    arrays
        The sources of every object; ``arrays.group[k] == i`` means row k belongs to
        ``object_ids[i]``.
    object_ids
        The diaObjectId of each group.
    dia_objects
        The diaObject to copy for each group (or ``None``).
    bbb, bbb_budget_s
        Whether to run the Bazin-blackbody fit (:mod:`skysift.features.bbb`; its columns are
        NULL when not), and the most seconds it may take for all the groups (``None``: no
        limit; objects not fitted by then get NULL).
    bbb_previous
        The BBB columns of each group's stored fit (NaN where none): the fit's warm start
        (setting ``bbb_warm_start``; see :func:`skysift.features.bbb.fit_bbb`). None: every
        object is fitted from guesses made from its light curve alone.
    dust
        The SFD dust map for ``ebv`` (:mod:`skysift.features.dust`); None: ``ebv`` is NULL.

    Returns
    -------
    list of dict
        One dict per group, in the order of ``object_ids``.
    """
    n = len(object_ids)
    arrays = arrays.sorted()  # once, for every feature function below
    phot = photometry_features(arrays, n)
    ra = phot.pop("_ra_latest")
    dec = phot.pop("_dec_latest")
    for i, obj in enumerate(dia_objects):
        if obj is not None and obj.get("ra") is not None and obj.get("dec") is not None:
            ra[i], dec[i] = float(obj["ra"]), float(obj["dec"])
    known = np.isfinite(ra) & np.isfinite(dec)
    glat = galactic_latitude(ra, dec)
    hpx = np.full(n, -1, dtype=np.int64)
    htm = np.full(n, -1, dtype=np.int64)
    if known.any():
        hpx[known] = healpix_index(ra[known], dec[known])
        htm[known] = htm_id(ra[known], dec[known])

    columns: dict[str, list[Any]] = {"diaObjectId": list(object_ids)}
    for name, values in phot.items():
        columns[name] = values.tolist() if values.dtype.kind == "i" else _nullable(values)
    columns["ra"], columns["decl"], columns["glat"] = _nullable(ra), _nullable(dec), _nullable(glat)
    columns["healpix"] = [h if ok else None for h, ok in zip(hpx.tolist(), known.tolist(),
                                                             strict=True)]
    columns["htm16"] = [h if ok else None for h, ok in zip(htm.tolist(), known.tolist(),
                                                           strict=True)]
    for name, values in lightcurve_features(arrays, n).items():
        if isinstance(values, list):
            columns[name] = values
        else:
            columns[name] = values.tolist() if values.dtype.kind == "i" else _nullable(values)
    if bbb:
        fit = fit_bbb(arrays, n, deadline_s=bbb_budget_s, previous=bbb_previous)
        log.debug("Bazin-blackbody fit: %d objects fitted, %d of them from their stored fit",
                  fit.fitted, fit.warm)
        if fit.timed_out:
            log.warning("Bazin-blackbody fit stopped at its budget of %s s (bbb_fit_budget_s): "
                        "%d of %d objects not fitted; their BBB columns are NULL until their "
                        "next alert", bbb_budget_s, fit.timed_out, fit.fitted)
        for name, values in fit.columns().items():
            columns[name] = _nullable(values)
    else:
        for name in BBB_COLUMNS:
            columns[name] = [None] * n
    for name in _NOT_YET:
        columns[name] = [None] * n
    columns["ebv"] = _nullable(dust.ebv(ra, dec)) if dust is not None else [None] * n
    objs = [obj or {} for obj in dia_objects]
    for name in _FLOAT_DIAOBJECT:
        columns[name] = [_clean(obj.get(name)) for obj in objs]
    for name in _INT_DIAOBJECT:
        columns[name] = [_clean_int(obj.get(name)) for obj in objs]
    ordered = [columns[name] for name in FEATURE_COLUMNS]
    return [
        dict(zip(FEATURE_COLUMNS, values, strict=True)) for values in zip(*ordered, strict=True)
    ]


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as a list with NaN replaced by None."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()
