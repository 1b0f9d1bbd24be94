"""The Transient Name Server catalogue, for ``objects.tns_name``.

The operator downloads TNS's public objects file (``tns_public_objects.csv`` or its ``.zip``,
from https://www.wis-tns.org/system/files/tns_public_objects/; a free TNS bot key is needed) and
runs ``skysift tns load FILE``. The file is a date line, a header (``"objid","name_prefix",
"name","ra","declination","redshift","typeid","type",...``) and one quoted row per object.
Loading replaces the whole catalogue (table ``crossmatch_tns``, Lasair's name and columns), so
loading a newer file refreshes it, and crossmatches every stored object: ``objects.tns_name``
becomes the name of the nearest TNS object within ``tns_radius_arcsec`` (default 1.5 arcsec), or
NULL. From then on each batch's objects are matched in the pipeline's context stage, as watchlists
are.

Bad rows (no name, a position that is not a number or off the sky) are skipped with their line
number; the rest load.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from skysift.context.sky import ConeIndex
from skysift.errors import ContextError
from skysift.store.schema import crossmatch_tns, objects
from skysift.store.statements import insert_ignore

__all__ = ["TnsCatalogue", "TnsLoad", "load_tns", "match_tns", "read_tns"]

log = logging.getLogger(__name__)

#: {column of crossmatch_tns: column of the TNS file}
_FIELDS = {"tns_prefix": "name_prefix", "z": "redshift", "type": "type",
           "disc_date": "discoverydate", "internal_names": "internal_names"}


@dataclass
class TnsCatalogue:
    """Rows of a TNS file, and the problems met reading it."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dated: str | None = None  # the file's date line

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        return ([r["tns_name"] for r in self.rows], np.array([r["ra"] for r in self.rows], float),
                np.array([r["decl"] for r in self.rows], float))


@dataclass
class TnsLoad:
    """What :func:`load_tns` did."""

    loaded: int
    skipped: list[str]
    objects_named: int
    objects_cleared: int
    dated: str | None


def _text(raw: bytes, where: str) -> str:
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise ContextError(f"{where}: the zip file holds no .csv file")
            raw = zf.read(names[0])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContextError(f"{where}: not UTF-8 text at byte {exc.start}") from exc


def _number(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if np.isfinite(x) else None


def read_tns(source: Path | bytes, *, where: str | None = None) -> TnsCatalogue:
    """Read a TNS public objects file (CSV, or a zip holding one)."""
    where = where or (str(source) if isinstance(source, Path) else "TNS file")
    raw = source.read_bytes() if isinstance(source, Path) else source
    lines = _text(raw, where).splitlines()
    cat = TnsCatalogue()
    header_at = None
    for i, line in enumerate(lines[:5]):
        cells = [c.strip().lower() for c in next(csv.reader([line]), [])]
        if "name" in cells and "ra" in cells and "declination" in cells:
            header_at = i
            break
        if cells and cat.dated is None:
            cat.dated = ",".join(c for c in next(csv.reader([line])) if c)
    if header_at is None:
        raise ContextError(f"{where}: no TNS header (\"objid\",\"name_prefix\",\"name\",\"ra\","
                           f"\"declination\",...) in the first 5 lines: is this the TNS public "
                           f"objects CSV?")
    reader = csv.DictReader(lines[header_at:])
    seen: set[str] = set()
    for line_no, rec in enumerate(reader, start=header_at + 2):
        name = (rec.get("name") or "").strip()
        ra, dec = _number(rec.get("ra")), _number(rec.get("declination"))
        problem = None
        if not name:
            problem = "no name"
        elif ra is None or dec is None or not (0 <= ra < 360 and -90 <= dec <= 90):
            problem = f"position ({rec.get('ra')!r}, {rec.get('declination')!r}) is not on the sky"
        elif name in seen:
            problem = f"{name} appears twice (the first is kept)"
        if problem:
            cat.problems.append(f"{where}, line {line_no}: {problem}")
            continue
        seen.add(name)
        row: dict[str, Any] = {"tns_name": name, "ra": ra, "decl": dec}
        for key, field_name in _FIELDS.items():
            value = (rec.get(field_name) or "").strip()
            row[key] = (_number(value) if key == "z" else value) or None
        cat.rows.append(row)
    return cat


def match_tns(names: list[str], index: ConeIndex, ra: np.ndarray,
              dec: np.ndarray) -> list[str | None]:
    """The name of the nearest TNS object within its cone, for each position (or None)."""
    out: list[str | None] = [None] * len(ra)
    best = np.full(len(ra), np.inf)
    known = np.isfinite(ra) & np.isfinite(dec)
    if not known.any() or not len(index):
        return out
    where = np.flatnonzero(known)
    found = index.match(ra[known], dec[known])
    for p, k, a in zip(found.position.tolist(), found.cone.tolist(), found.arcsec.tolist(),
                       strict=True):
        i = int(where[p])
        if a < best[i] or (a == best[i] and names[k] < (out[i] or "\uffff")):
            best[i], out[i] = a, names[k]
    return out


def tns_index(names: list[str], ra: np.ndarray, dec: np.ndarray,
              radius_arcsec: float) -> ConeIndex:
    return ConeIndex(ra, dec, np.full(len(names), float(radius_arcsec)))


def load_tns(engine: sa.Engine, source: Path, *, radius_arcsec: float, chunk: int = 100_000,
             progress: bool = False,
             on_chunk: Callable[[int, int], None] | None = None) -> TnsLoad:
    """Replace the TNS catalogue with ``source`` and re-name every stored object."""
    from tqdm import tqdm


    cat = read_tns(source)
    if not cat.rows:
        raise ContextError(f"{source}: no usable TNS rows ({len(cat.problems)} skipped); the "
                           "catalogue was left as it was")
    now = datetime.now(UTC)
    for row in cat.rows:
        row["loaded"] = now
    names, ra, dec = cat.arrays()
    index = tns_index(names, ra, dec, radius_arcsec)
    named = cleared = 0
    with engine.begin() as conn:
        conn.execute(crossmatch_tns.delete())
        insert_ignore(conn, crossmatch_tns, cat.rows, "tns_name")
        total = int(conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar_one())
        last: int | None = None
        bar = tqdm(total=total, unit="object", desc="tns crossmatch", disable=not progress)
        done = 0
        while True:
            q = sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl,
                          objects.c.tns_name).order_by(objects.c.diaObjectId).limit(chunk)
            if last is not None:
                q = q.where(objects.c.diaObjectId > last)
            rows = conn.execute(q).all()
            if not rows:
                break
            last = int(rows[-1][0])
            o_ra = np.array([np.nan if r[1] is None else r[1] for r in rows], float)
            o_dec = np.array([np.nan if r[2] is None else r[2] for r in rows], float)
            new = match_tns(names, index, o_ra, o_dec)
            changes = [
                {"oid": int(r[0]), "name": n} for r, n in zip(rows, new, strict=True) if r[3] != n
            ]
            named += sum(1 for n in new if n is not None)
            cleared += sum(
                1 for r, n in zip(rows, new, strict=True) if n is None and r[3] is not None
            )
            if changes:
                conn.execute(objects.update().where(objects.c.diaObjectId == sa.bindparam("oid"))
                             .values(tns_name=sa.bindparam("name")), changes)
            done += len(rows)
            bar.update(len(rows))
            if on_chunk:
                on_chunk(done, total)
        bar.close()
    for problem in cat.problems[:20]:
        log.warning("%s", problem)
    return TnsLoad(len(cat.rows), cat.problems, named, cleared, cat.dated)


def name_batch(conn: sa.Connection, names: list[str], index: ConeIndex,
               rows: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Set ``tns_name`` of the batch's objects that lie on a TNS object (in the store and in
    ``rows``, which are mutable mappings); returns {diaObjectId: name}."""

    batch = list(rows)
    ra = np.array([np.nan if r.get("ra") is None else r["ra"] for r in batch], float)
    dec = np.array([np.nan if r.get("decl") is None else r["decl"] for r in batch], float)
    found = {}
    for row, name in zip(batch, match_tns(names, index, ra, dec), strict=True):
        if name is not None:
            row["tns_name"] = name  # type: ignore[index]
            found[int(row["diaObjectId"])] = name
    if found:
        conn.execute(objects.update().where(objects.c.diaObjectId == sa.bindparam("oid"))
                     .values(tns_name=sa.bindparam("name")),
                     [{"oid": k, "name": v} for k, v in found.items()])
    return found
