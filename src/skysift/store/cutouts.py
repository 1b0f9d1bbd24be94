"""An alert's image cutouts (science, template, difference), kept on disk when asked.

Off by default (``keep_cutouts``): Rubin's three FITS stamps are about 110 KB per alert, so a
night of a million alerts is about 100 GB. When on, each alert's cutouts are written, as sent,
under the key ``<diaObjectId % 1000>/<diaObjectId>/<diaSourceId>-<kind>.fits`` of a
:mod:`~skysift.store.blobs` store: ``<data_dir>/cutouts`` (atomically: a temporary file, then a
rename), or the folder or S3-compatible bucket that ``cutouts_url`` names. The object page shows the
newest three, scaled for viewing by :func:`render_png` (zscale limits, asinh stretch;
astropy.visualization).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from skysift.alerts.model import Alert
from skysift.alerts.decode import decode_record
from skysift.store.blobs import open_blob_store

if TYPE_CHECKING:
    from skysift.config import Settings
    from skysift.store.blobs import BlobStore

__all__ = ["KINDS", "cutout_key", "cutout_store", "cutouts_of", "latest_cutouts", "render_png",
           "save_cutouts"]

#: The three stamps, in the order the object page shows them; the alert field of each.
KINDS = {"science": "cutoutScience", "template": "cutoutTemplate",
         "difference": "cutoutDifference"}


def cutouts_of(alert: Alert) -> dict[str, bytes]:
    """The alert's cutouts as FITS bytes, by kind (science, template, difference); empty when
    the alert carries none or was not read from Rubin-framed bytes."""

    raw = getattr(alert, "raw", None)
    if not raw or raw[:1] != b"\x00":
        return {}
    record = decode_record(raw, alert.origin)
    return {kind: bytes(record[field]) for kind, field in KINDS.items()
            if isinstance(record.get(field), (bytes, bytearray)) and record[field]}


def cutout_store(settings: Settings) -> BlobStore:
    """Where the settings keep cutouts: ``cutouts_url`` (a folder or ``s3://bucket/prefix``),
    else ``<data_dir>/cutouts``."""

    return open_blob_store(settings.cutouts_url or settings.data_dir / "cutouts", settings)


def _folder(object_id: int) -> str:
    return f"{object_id % 1000:03d}/{object_id}/"


def save_cutouts(store: BlobStore, alerts: list[Alert]) -> int:
    """Write the cutouts of ``alerts`` (those with an object) into ``store``, in one call (an
    S3 store uploads them in parallel); the number of files written. Writing again the same
    alert's cutouts writes the same bytes under the same keys."""
    items: dict[str, bytes] = {}
    for alert in alerts:
        if alert.diaObjectId is None:
            continue
        source_id = alert.diaSource.get("diaSourceId", alert.diaSourceId)
        folder = _folder(int(alert.diaObjectId))
        for kind, data in cutouts_of(alert).items():
            items[f"{folder}{source_id}-{kind}.fits"] = data
    return store.put_many(items)


def latest_cutouts(store: BlobStore, object_id: int) -> tuple[int, dict[str, str]] | None:
    """(diaSourceId, {kind: key}) of the object's newest detection with cutouts, or None."""
    folder = _folder(int(object_id))
    by_source: dict[int, dict[str, str]] = {}
    for key in store.keys(folder):
        name = key[len(folder):]
        if "/" in name or not name.endswith(".fits"):
            continue
        source, _, kind = name[:-5].partition("-")
        if source.isdigit() and kind in KINDS:
            by_source.setdefault(int(source), {})[kind] = key
    if not by_source:
        return None
    newest = max(by_source)  # Rubin's diaSourceIds grow with time
    return newest, by_source[newest]


def cutout_key(object_id: int, source_id: int, kind: str) -> str:
    """The key of one cutout in a store."""
    return f"{_folder(int(object_id))}{int(source_id)}-{kind}.fits"


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
