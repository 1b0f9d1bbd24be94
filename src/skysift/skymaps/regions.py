"""Credible regions as MOCs (Multi-Order Coverage maps, IVOA), via mocpy."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skysift.errors import SkymapError
from skysift.skymaps.credible import credible_levels, region_mask
from skysift.skymaps.multiorder import MultiOrderMap

if TYPE_CHECKING:  # pragma: no cover
    from mocpy import MOC

__all__ = ["credible_moc", "save_moc"]


def credible_moc(m: MultiOrderMap, level: float, levels: np.ndarray | None = None) -> MOC:
    """The ``level`` credible region (same rule as the areas) as a MOC at the map's finest order.

    Its ``sky_fraction`` times 41252.96 deg² equals :func:`~skysift.skymaps.credible.credible_area`.
    """
    from mocpy import MOC

    mask = region_mask(m, level, levels if levels is not None else credible_levels(m))
    if not mask.any():  # a region smaller than the densest pixel: keep that pixel
        mask = m.probdensity == m.probdensity.max()
    return MOC.from_healpix_cells(m.ipix[mask], m.level[mask].astype(np.uint8), m.max_level)


def save_moc(moc: MOC, path: Path, fmt: str) -> Path:
    """Write ``moc`` as ``fmt`` (``fits`` or ``json``) through a temporary file and
    ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        moc.save(tmp, format=fmt, overwrite=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SkymapError(f"cannot write MOC: {exc}", path=str(path)) from exc
    return path
