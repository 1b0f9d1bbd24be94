"""skyTag: where positions fall in a sky map.

For each (RA, Dec): the credible level in percent (the probability of all pixels at least as dense,
inclusive, as skyTag and ligo.skymap's ``searched_prob``), the probability density (deg⁻²), the
conditional distance mean and standard deviation along that line of sight, and, given an MJD, the
days since the event (MJD-OBS).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from skysift.errors import GcnError
from skysift.gcn import atomic
from skysift.skymaps.credible import SR_TO_DEG2, credible_levels
from skysift.skymaps.distance import parameters_to_moments
from skysift.skymaps.lookup import rows_at
from skysift.skymaps.multiorder import MultiOrderMap

__all__ = ["TAG_COLUMNS", "TagResult", "tag_csv", "tag_positions"]

TAG_COLUMNS = ("CREDIBLE_PERCENT", "PROBDENSITY_DEG2", "DIST_MEAN", "DIST_STD", "DAYS_SINCE_EVENT")


@dataclass(frozen=True)
class TagResult:
    """One position's tags."""

    ra: float
    dec: float
    credible_percent: float
    probdensity_deg2: float
    dist_mean: float | None
    dist_std: float | None
    days_since_event: float | None


def tag_positions(m: MultiOrderMap, ra: np.ndarray, dec: np.ndarray,
                  mjd: np.ndarray | None = None) -> list[TagResult]:
    """Tag each position (degrees); ``mjd`` may hold NaN where a time is unknown."""
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    if ((dec < -90) | (dec > 90)).any() or not np.isfinite(ra).all():
        raise GcnError("declinations must be within ±90° and right ascensions finite")
    rows = rows_at(m, ra % 360.0, dec)
    levels = credible_levels(m)[rows]
    dens = m.probdensity[rows] / SR_TO_DEG2
    if m.distmu is not None and m.distsigma is not None:  # m.has_distance
        mean, std, _ = parameters_to_moments(m.distmu[rows], m.distsigma[rows])
    else:
        mean = std = np.full(ra.shape, np.nan)
    mjd_obs = m.header.get("MJD-OBS")
    out = []
    for i in range(ra.size):
        dt = None
        if mjd is not None and mjd_obs is not None and np.isfinite(mjd[i]):
            dt = round(float(mjd[i]) - float(mjd_obs), 5)
        out.append(TagResult(
            float(ra[i]), float(dec[i]), round(float(levels[i]) * 100.0, 2), float(dens[i]),
            float(mean[i]) if np.isfinite(mean[i]) else None,
            float(std[i]) if np.isfinite(std[i]) else None, dt))
    return out


def _column(fields: list[str], names: tuple[str, ...]) -> str | None:
    lower = {f.lower(): f for f in fields}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def tag_csv(csv_path: Path, m: MultiOrderMap, out_path: Path | None = None) -> Path:
    """Add the TAG_COLUMNS to a CSV of transients (columns ra/dec or RA/DEC, optional mjd).

    The result is written atomically to ``out_path`` (default: the input file itself). Existing tag
    columns are replaced, so tagging twice gives the same file.
    """
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text()
    except OSError as exc:
        raise GcnError(f"cannot read CSV: {exc.strerror or exc}", path=str(csv_path)) from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = list(reader.fieldnames or [])
    rows = list(reader)
    ra_col = _column(fields, ("ra", "radeg", "ra_deg", "raj2000"))
    dec_col = _column(fields, ("dec", "decdeg", "dec_deg", "dej2000", "decj2000"))
    mjd_col = _column(fields, ("mjd", "mjd_obs", "discovery_mjd"))
    if ra_col is None or dec_col is None:
        raise GcnError(f"CSV needs ra and dec columns, found {fields}", path=str(csv_path))
    try:
        ra = np.array([float(r[ra_col]) for r in rows])
        dec = np.array([float(r[dec_col]) for r in rows])
    except (TypeError, ValueError) as exc:
        bad = next(
            i for i, r in enumerate(rows) if not _is_number(r[ra_col]) or not _is_number(r[dec_col])
        )
        raise GcnError(f"CSV row {bad + 2} has a non-numeric position", path=str(csv_path),
                       line=bad + 2) from exc
    mjd = None
    if mjd_col:
        mjd = np.array([float(r[mjd_col]) if _is_number(r[mjd_col]) else np.nan for r in rows])
    tags = tag_positions(m, ra, dec, mjd) if rows else []
    out_fields = [f for f in fields if f not in TAG_COLUMNS] + list(TAG_COLUMNS)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=out_fields, lineterminator="\n")
    writer.writeheader()
    for row, t in zip(rows, tags, strict=True):
        d = asdict(t)
        row.update(
            {
                "CREDIBLE_PERCENT": d["credible_percent"],
                "PROBDENSITY_DEG2": f"{d['probdensity_deg2']:.6g}",
                "DIST_MEAN": "" if d["dist_mean"] is None else f"{d['dist_mean']:.3f}",
                "DIST_STD": "" if d["dist_std"] is None else f"{d['dist_std']:.3f}",
                "DAYS_SINCE_EVENT": "" if d["days_since_event"] is None else d["days_since_event"],
            }
        )
        writer.writerow({k: row.get(k, "") for k in out_fields})
    return atomic.write_text(Path(out_path) if out_path else csv_path, buf.getvalue())


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False
