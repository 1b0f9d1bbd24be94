"""Reading a watchlist's cones from what users upload.

Two kinds of file are read:

- Lasair's text: one cone a line, ``ra, dec, name[, radius]`` (degrees, degrees, text, arcsec),
  separated by commas or ``|``; ``#`` starts a comment; blank lines are skipped.
- Any table astropy reads: CSV with a header line, ECSV, FITS, VOTable. The columns are found by
  name (``ra``/``ra_deg``/``raj2000``, ``dec``/``decl``/``dej2000``, ``name``/``id``,
  ``radius``/``radius_arcsec``, any case); angles with a unit are converted to degrees, a
  radius with a unit to arcsec.

Bad lines are reported by number (the file's line, or the table's row counted from 1) and
left out; good ones are kept.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skysift.errors import ContextError

__all__ = ["MAX_CONES", "MAX_RADIUS_ARCSEC", "Cones", "read_cones"]

#: The largest cone radius accepted (arcsec), as Lasair.
MAX_RADIUS_ARCSEC = 1800.0
#: The most cones one watchlist may hold.
MAX_CONES = 1_000_000
MAX_NAME = 200
_TABLE_SUFFIXES = {".fits": "fits", ".fit": "fits", ".fits.gz": "fits", ".ecsv": "ascii.ecsv",
                   ".vot": "votable", ".votable": "votable", ".xml": "votable"}
_RA = ("ra", "ra_deg", "raj2000", "ra_j2000", "radeg", "ra_icrs")
_DEC = ("dec", "decl", "dec_deg", "dej2000", "decj2000", "dec_j2000", "decdeg", "de_icrs",
        "dec_icrs")
_NAME = ("name", "id", "objname", "object", "source_id", "designation")
_RADIUS = ("radius", "radius_arcsec", "r", "rad")
_SPLIT = re.compile(r"\s*[,|]\s*")


@dataclass
class Cones:
    """Cones read from a file: parallel lists, plus the problems met (line number, message)."""

    ra: list[float] = field(default_factory=list)
    dec: list[float] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    radius: list[float | None] = field(default_factory=list)  # arcsec; None = the list's default
    problems: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0  # lines (or rows) read, comments and blanks included

    def __len__(self) -> int:
        return len(self.ra)

    def add(self, line: int, ra: float, dec: float, name: str, radius: float | None) -> None:
        """Check one cone; keep it, or record why not."""
        problem = _problem(ra, dec, radius, name)
        if problem:
            self.problems.append((line, problem))
        elif len(self.ra) >= MAX_CONES:
            self.problems.append((line, f"more than {MAX_CONES:,} cones: left out"))
        else:
            self.ra.append(ra)
            self.dec.append(dec)
            self.name.append(name)
            self.radius.append(radius)

    def problem_text(self, source: str, limit: int = 20) -> str:
        """The problems as lines ``<source> line N: message``, at most ``limit`` of them."""
        out = [f"{source} line {n}: {msg}" for n, msg in self.problems[:limit]]
        if len(self.problems) > limit:
            out.append(f"... and {len(self.problems) - limit:,} more")
        return "\n".join(out)


def _problem(ra: float, dec: float, radius: float | None, name: str) -> str | None:
    if not (math.isfinite(ra) and 0.0 <= ra <= 360.0):
        return f"ra {ra!r} is not between 0 and 360 degrees"
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        return f"dec {dec!r} is not between -90 and 90 degrees"
    if radius is not None:
        if not math.isfinite(radius) or radius <= 0:
            return f"radius {radius!r} must be a positive number of arcsec"
        if radius > MAX_RADIUS_ARCSEC:
            return f"radius {radius:g} arcsec is above the largest allowed, {MAX_RADIUS_ARCSEC:g}"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    return None


def read_cones(data: bytes | str | Path, filename: str | None = None) -> Cones:
    """The cones of an uploaded file (bytes with its ``filename``, or a path).

    Raises
    ------
    ContextError
        The file cannot be read at all (not text, not a table, no ra/dec columns); the message
        names the file.

    Examples
    --------
    >>> c = read_cones(b"# ra, dec, name, radius\\n10.5, -3.25, a\\n11|4|b|5\\n400, 0, c\\n",
    ...                "x.txt")
    >>> c.ra, c.dec, c.name, c.radius
    ([10.5, 11.0], [-3.25, 4.0], ['a', 'b'], [None, 5.0])
    >>> c.problems
    [(4, 'ra 400.0 is not between 0 and 360 degrees')]
    """
    if isinstance(data, Path) or (isinstance(data, str) and filename is None):
        path = Path(data)
        filename = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ContextError(f"cannot read the cone file: {exc.strerror}",
                               path=str(path)) from exc
    raw = data.encode() if isinstance(data, str) else data
    name = filename or "upload"
    lower = name.lower()
    fmt = next((f for suffix, f in _TABLE_SUFFIXES.items() if lower.endswith(suffix)), None)
    if fmt is None and raw[:6] == b"SIMPLE":
        fmt = "fits"
    if fmt is None and raw.lstrip()[:5] in (b"<?xml", b"<VOTA"):
        fmt = "votable"
    if fmt is None and raw.startswith(b"# %ECSV"):
        fmt = "ascii.ecsv"
    if fmt is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ContextError(f"{name} is neither text (UTF-8) nor a FITS or VOTable table",
                               path=name) from exc
        if _has_header(text):
            return _read_table(raw, "ascii.csv", name)
        return _read_text(text)
    return _read_table(raw, fmt, name)


def _has_header(text: str) -> bool:
    """A CSV whose first non-comment line names an ra and a dec column."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = [w.strip().strip('"').lower() for w in _SPLIT.split(stripped)]
        return any(w in _RA for w in words) and any(w in _DEC for w in words)
    return False


def _number(text: str) -> float:
    return float(text)


def _read_text(text: str) -> Cones:
    cones = Cones()
    for number, line in enumerate(text.splitlines(), start=1):
        cones.lines = number
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = _SPLIT.split(body)
        if len(parts) < 2:
            cones.problems.append((number, "expected ra, dec, name[, radius]"))
            continue
        if len(parts) > 4:
            cones.problems.append((number,
                                   f"{len(parts)} fields; expected ra, dec, name[, radius]"))
            continue
        try:
            ra, dec = _number(parts[0]), _number(parts[1])
        except ValueError:
            message = (f"ra and dec must be numbers (degrees): "
                       f"'{parts[0][:30]}', '{parts[1][:30]}'")
            cones.problems.append((number, message))
            continue
        radius: float | None = None
        if len(parts) == 4 and parts[3]:
            try:
                radius = _number(parts[3])
            except ValueError:
                cones.problems.append((number,
                                       f"radius must be a number (arcsec): '{parts[3][:30]}'"))
                continue
        cone_name = parts[2].strip().strip('"') if len(parts) >= 3 else ""
        cones.add(number, ra, dec, cone_name, radius)
    return cones


def _find(colnames: list[str], wanted: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in colnames}
    return next((lower[w] for w in wanted if w in lower), None)


def _read_table(raw: bytes, fmt: str, name: str) -> Cones:
    import warnings

    import astropy.units as u
    from astropy.table import Table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = Table.read(io.BytesIO(raw), format=fmt)
    except Exception as exc:
        raise ContextError(f"{name} cannot be read as a {fmt} table: {exc}", path=name) from exc
    cols = list(table.colnames)
    ra_col, dec_col = _find(cols, _RA), _find(cols, _DEC)
    if ra_col is None or dec_col is None:
        raise ContextError(f"{name} has no ra and dec columns (found: {', '.join(cols[:20])})",
                           path=name)
    name_col, radius_col = _find(cols, _NAME), _find(cols, _RADIUS)

    def values(col: str, unit: u.UnitBase) -> np.ndarray:
        column = table[col]
        if getattr(column, "unit", None) is not None:
            try:
                return np.asarray(u.Quantity(column).to_value(unit), dtype=float)
            except u.UnitConversionError as exc:
                raise ContextError(f"{name}: column {col} is in {column.unit}, not an angle",
                                   path=name) from exc
        data = np.ma.filled(np.ma.asarray(column).astype(float), np.nan)
        return np.asarray(data, dtype=float)

    try:
        ra, dec = values(ra_col, u.deg), values(dec_col, u.deg)
        radius = values(radius_col, u.arcsec) if radius_col else None
    except (TypeError, ValueError) as exc:
        raise ContextError(f"{name}: ra, dec and radius must be numbers: {exc}", path=name) from exc
    names = ([str(v) if not np.ma.is_masked(v) else "" for v in table[name_col]]
             if name_col else [""] * len(table))
    # a CSV's data start on line 2 (after the header); other tables count rows from 1
    first = 2 if fmt == "ascii.csv" else 1
    cones = Cones(lines=len(table))
    for i in range(len(table)):
        r = None if radius is None or not math.isfinite(radius[i]) else float(radius[i])
        cones.add(first + i, float(ra[i]), float(dec[i]), names[i].strip(), r)
    return cones
