"""An alert's image cutouts (science, template, difference), kept on disk when asked.

Off by default (``keep_cutouts``): Rubin's three FITS stamps are about 110 KB per alert, so a
night of a million alerts is about 100 GB. When on, each alert's cutouts are written to
``<data_dir>/cutouts/<diaObjectId % 1000>/<diaObjectId>/<diaSourceId>-<kind>.fits`` (atomically:
a temporary file, then a rename), as sent. The object page shows the newest three, scaled for
viewing by :func:`render_png` (zscale limits, asinh stretch; astropy.visualization).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from skysift.alerts.model import Alert

__all__ = ["KINDS", "cutouts_of", "latest_cutouts", "render_png", "save_cutouts"]

#: The three stamps, in the order the object page shows them; the alert field of each.
KINDS = {"science": "cutoutScience", "template": "cutoutTemplate",
         "difference": "cutoutDifference"}


def cutouts_of(alert: Alert) -> dict[str, bytes]:
    """The alert's cutouts as FITS bytes, by kind (science, template, difference); empty when
    the alert carries none or was not read from Rubin-framed bytes."""
    from skysift.alerts.decode import decode_record

    raw = getattr(alert, "raw", None)
    if not raw or raw[:1] != b"\x00":
        return {}
    record = decode_record(raw, alert.origin)
    return {kind: bytes(record[field]) for kind, field in KINDS.items()
            if isinstance(record.get(field), (bytes, bytearray)) and record[field]}


def _folder(root: Path, object_id: int) -> Path:
    return root / f"{object_id % 1000:03d}" / str(object_id)


def save_cutouts(root: Path, alerts: list[Alert]) -> int:
    """Write the cutouts of ``alerts`` (those with an object) under ``root``; the number of
    files written. An alert whose cutouts are there already is skipped."""
    written = 0
    for alert in alerts:
        if alert.diaObjectId is None:
            continue
        source_id = alert.diaSource.get("diaSourceId", alert.diaSourceId)
        folder = _folder(root, int(alert.diaObjectId))
        if (folder / f"{source_id}-difference.fits").exists():
            continue
        stamps = cutouts_of(alert)
        if not stamps:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for kind, data in stamps.items():
            fd, tmp = tempfile.mkstemp(prefix=".cutout.", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, folder / f"{source_id}-{kind}.fits")
            written += 1
    return written


def latest_cutouts(root: Path, object_id: int) -> tuple[int, dict[str, Path]] | None:
    """(diaSourceId, {kind: path}) of the object's newest detection with cutouts, or None."""
    folder = _folder(root, int(object_id))
    if not folder.is_dir():
        return None
    by_source: dict[int, dict[str, Path]] = {}
    for path in folder.glob("*-*.fits"):
        source, _, kind = path.stem.partition("-")
        if source.isdigit() and kind in KINDS:
            by_source.setdefault(int(source), {})[kind] = path
    if not by_source:
        return None
    newest = max(by_source)  # Rubin's diaSourceIds grow with time
    return newest, by_source[newest]


def image_of(data: bytes) -> Any:
    """The image array of a cutout (the first HDU with 2-d data)."""
    import numpy as np
    from astropy.io import fits

    with fits.open(io.BytesIO(data)) as hdus:
        for hdu in hdus:
            if hdu.data is not None and np.ndim(hdu.data) == 2:
                return np.asarray(hdu.data, dtype=float)
    raise ValueError("the cutout holds no image")


def render_png(data: bytes, *, scale: int = 6) -> bytes:
    """A greyscale PNG of a cutout, each pixel ``scale`` x ``scale`` screen pixels, limits by
    zscale and an asinh stretch (NaN pixels black)."""
    import numpy as np
    from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
    from matplotlib.image import imsave

    img = image_of(data)
    finite = np.isfinite(img)
    norm = ImageNormalize(img[finite] if finite.any() else np.zeros(1),
                          interval=ZScaleInterval(), stretch=AsinhStretch())
    scaled = np.clip(np.nan_to_num(norm(img).filled(0.0) if hasattr(norm(img), "filled")
                                   else norm(img), nan=0.0), 0.0, 1.0)
    scaled = np.where(finite, scaled, 0.0)
    big = np.kron(scaled, np.ones((scale, scale)))
    out = io.BytesIO()
    imsave(out, big, cmap="gray", vmin=0.0, vmax=1.0, origin="lower", format="png")
    return out.getvalue()
