"""The ``objects`` row of an object: computed features plus the diaObject's own columns.

:func:`compute_features` is the pure, one-object entry point; :func:`compute_features_many` does a
whole batch in one vectorised pass (the store uses it). Both give identical values.

Position: ``ra``/``decl`` are the diaObject's ``ra``/``dec`` when a diaObject is known, else the
latest diaSource's. ``glat`` and ``healpix`` follow from them. Values that are NaN are returned as
``None`` (SQL NULL), identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from skysift.features.photometry import SourceArrays, photometry_features
from skysift.features.sky import galactic_latitude, healpix_index
from skysift.store.columns import COMPUTED_COLUMNS, DIAOBJECT_COLUMNS

__all__ = ["compute_features", "compute_features_many", "FEATURE_COLUMNS"]

#: The columns :func:`compute_features` returns, in table order.
FEATURE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COMPUTED_COLUMNS + DIAOBJECT_COLUMNS)
_INT_DIAOBJECT = tuple(c.name for c in DIAOBJECT_COLUMNS if c.type == "int")
_FLOAT_DIAOBJECT = tuple(c.name for c in DIAOBJECT_COLUMNS if c.type == "float")
_PHOT_INT = ("nDiaSources", "nPosDiaSources") + tuple(f"n{b}Sources" for b in "ugrizy")


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


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
                          dia_objects: Sequence[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
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

    Returns
    -------
    list of dict
        One dict per group, in the order of ``object_ids``.
    """
    n = len(object_ids)
    phot = photometry_features(arrays, n)
    ra = phot.pop("_ra_latest")
    dec = phot.pop("_dec_latest")
    for i, obj in enumerate(dia_objects):
        if obj is not None and obj.get("ra") is not None and obj.get("dec") is not None:
            ra[i], dec[i] = float(obj["ra"]), float(obj["dec"])
    known = np.isfinite(ra) & np.isfinite(dec)
    glat = galactic_latitude(ra, dec)
    hpx = np.full(n, -1, dtype=np.int64)
    if known.any():
        hpx[known] = healpix_index(ra[known], dec[known])

    columns: dict[str, list[Any]] = {}
    for name, values in phot.items():
        columns[name] = values.tolist()
    columns["ra"], columns["decl"], columns["glat"] = ra.tolist(), dec.tolist(), glat.tolist()
    hpx_list = hpx.tolist()
    columns["healpix"] = [h if ok else None for h, ok in zip(hpx_list, known.tolist())]

    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {"diaObjectId": object_ids[i]}
        for name in FEATURE_COLUMNS[1:]:
            values = columns.get(name)
            if values is not None:
                v = values[i]
                row[name] = v if name in _PHOT_INT or name == "healpix" else _clean(v)
        obj = dia_objects[i] or {}
        for name in _FLOAT_DIAOBJECT:
            row[name] = _clean(obj.get(name))
        for name in _INT_DIAOBJECT:
            v = obj.get(name)
            row[name] = None if v is None else int(v)
        rows.append({name: row.get(name) for name in FEATURE_COLUMNS})
    return rows
