"""Read a multi-order (NUNIQ) HEALPix sky map into numpy arrays.

LVK sky maps are FITS binary tables with one row per HEALPix pixel of varying order: the ``UNIQ``
column (``4 * 4**order + ipix``, nested), ``PROBDENSITY`` in sr⁻¹ and, for compact binaries,
``DISTMU``/``DISTSIGMA``/``DISTNORM`` (the distance ansatz of Singer et al. 2016). Burst maps (oLIB,
cWB) may carry only ``UNIQ`` and ``PROBDENSITY``.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysift.errors import SkymapError

__all__ = ["DISTANCE_COLUMNS", "MultiOrderMap", "read_multiorder"]

DISTANCE_COLUMNS = ("DISTMU", "DISTSIGMA", "DISTNORM")
_SKIP_HEADER = {"HISTORY", "COMMENT", ""}
_TABLE_KEYS = ("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS")


@dataclass(frozen=True)
class MultiOrderMap:
    """A multi-order sky map: one entry per pixel, any order.

    Attributes
    ----------
    uniq, level, ipix
        NUNIQ index, HEALPix order and nested pixel index of each row.
    probdensity
        Probability per steradian.
    distmu, distsigma, distnorm
        Distance ansatz parameters (Mpc, Mpc, Mpc⁻²), or ``None`` for maps without distance.
    header
        The table's FITS header cards (without HISTORY and COMMENT) as plain Python values.
    """

    uniq: np.ndarray
    probdensity: np.ndarray
    distmu: np.ndarray | None
    distsigma: np.ndarray | None
    distnorm: np.ndarray | None
    header: dict[str, Any]
    level: np.ndarray = field(repr=False)
    ipix: np.ndarray = field(repr=False)

    @property
    def has_distance(self) -> bool:
        """Whether the map has the three distance columns."""
        return self.distmu is not None

    @property
    def max_level(self) -> int:
        """The finest HEALPix order present."""
        return int(self.level.max())

    @property
    def pixel_area(self) -> np.ndarray:
        """Area of each row's pixel in steradians."""
        return np.pi / 3.0 / np.power(4.0, self.level)

    @property
    def prob(self) -> np.ndarray:
        """Probability of each row (density times area)."""
        return self.probdensity * self.pixel_area

    def __len__(self) -> int:
        return int(self.uniq.size)


def _header_dict(header: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in header:
        if key in _SKIP_HEADER or key in _TABLE_KEYS or key.startswith(("TTYPE", "TFORM", "TUNIT")):
            continue
        value = header[key]
        if isinstance(value, (bool, int, float, str)):
            out[key] = value.item() if hasattr(value, "item") else value
        else:
            out[key] = str(value)
    return out


def read_multiorder(source: bytes | str | Path, *, where: str | None = None) -> MultiOrderMap:
    """Read a multi-order FITS sky map from bytes or a file (gzip-compressed or not).

    Parameters
    ----------
    source
        The FITS bytes, or a path to a ``.fits`` / ``.fits.gz`` file.
    where
        What to name in errors (a path, an alert id) when ``source`` is bytes.

    Raises
    ------
    SkymapError
        When the bytes are not FITS, have no NUNIQ table, or the pixels do not tile the sky.

    Examples
    --------
    >>> m = read_multiorder("tests/data/lvk/bayestar.multiorder.fits")    # doctest: +SKIP
    >>> round(float(m.prob.sum()), 6)                                       # doctest: +SKIP
    1.0
    """
    from astropy.io import fits

    if isinstance(source, (str, Path)):
        where = where or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise SkymapError(f"cannot read sky map: {exc.strerror or exc}", path=where) from exc
    else:
        data = bytes(source)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SkymapError(f"sky map is corrupt gzip: {exc}", path=where) from exc
    if not data.startswith(b"SIMPLE"):
        raise SkymapError("sky map is not a FITS file", path=where)
    try:
        with fits.open(io.BytesIO(data), memmap=False) as hdus:
            if len(hdus) < 2 or not isinstance(hdus[1], fits.BinTableHDU):
                raise SkymapError("sky map has no binary table extension", path=where)
            table = hdus[1].data
            names = [n.upper() for n in table.columns.names]
            header = _header_dict(hdus[1].header)
            if "UNIQ" not in names or "PROBDENSITY" not in names:
                raise SkymapError(f"sky map is not multi-order: columns {names}", path=where)
            cols = {n: np.array(table[n], dtype=np.int64 if n == "UNIQ" else np.float64)
                    for n in names if n == "UNIQ" or n == "PROBDENSITY" or n in DISTANCE_COLUMNS}
    except SkymapError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError on corrupt FITS
        raise SkymapError(f"sky map does not decode: {type(exc).__name__}: {exc}",
                          path=where) from exc
    return _build(cols, header, where)


def _build(cols: dict[str, np.ndarray], header: dict[str, Any], where: str | None) -> MultiOrderMap:
    from astropy_healpix import uniq_to_level_ipix

    uniq = cols["UNIQ"]
    if uniq.size == 0 or (uniq < 4).any():
        raise SkymapError("sky map has no pixels or invalid UNIQ values", path=where)
    level, ipix = uniq_to_level_ipix(uniq)
    level = np.asarray(level, dtype=np.int64)
    ipix = np.asarray(ipix, dtype=np.int64)
    if level.max() > 29:
        raise SkymapError("sky map has pixels beyond HEALPix order 29", path=where)
    top = int(level.max())
    covered = int(np.sum(np.left_shift(np.int64(1), 2 * (top - level))))
    if covered != 12 * 4**top:
        raise SkymapError(f"sky map pixels cover {covered / (12 * 4**top):.6f} of the sky, "
                          "not all of it", path=where)
    density = cols["PROBDENSITY"]
    if not np.isfinite(density).all() or (density < 0).any():
        raise SkymapError("sky map has negative or non-finite PROBDENSITY", path=where)
    has_dist = all(c in cols for c in DISTANCE_COLUMNS)
    return MultiOrderMap(
        uniq=uniq, probdensity=density,
        distmu=cols["DISTMU"] if has_dist else None,
        distsigma=cols["DISTSIGMA"] if has_dist else None,
        distnorm=cols["DISTNORM"] if has_dist else None,
        header=header, level=level, ipix=ipix,
    )
