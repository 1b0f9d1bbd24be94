"""The store: SQLAlchemy tables, Alembic migrations, bulk ingest and read-back queries.

Names are imported lazily, so ``import skysift.store.columns`` stays cheap and free of cycles
(:mod:`skysift.features` reads the column catalogue; :mod:`skysift.store.ingest` reads features).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "ColumnDoc",
    "LightCurve",
    "StoreResult",
    "fetch_lightcurves",
    "fetch_objects",
    "filter_catalogue",
    "latest_objects",
    "open_store",
    "store_alerts",
]

_WHERE = {
    "open_store": "database",
    "StoreResult": "ingest",
    "store_alerts": "ingest",
    "LightCurve": "lightcurve",
    "fetch_lightcurves": "lightcurve",
    "fetch_objects": "lightcurve",
    "latest_objects": "lightcurve",
    "filter_catalogue": "columns",
    "ColumnDoc": "columns",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'skysift.store' has no attribute {name!r}")
    return getattr(import_module(f"skysift.store.{module}"), name)
