"""Batch filter engine: 1,000 filters over a batch of 1,000 objects rows (~120 columns).

Prints the time to load a batch, to validate and compile the filters once, and to run all of
them over one batch (filters/s), for the run with cached compiled SQL.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "filters"))

from lsst_catalogue import lsst_catalogue

from skysift.filters.engine import BatchEngine
from skysift.filters.validate import validate_filter

N_FILTERS = 1000
N_OBJECTS = 1000
TEMPLATES = [
    ("SELECT objects.diaObjectId, objects.ra, objects.decl FROM objects "
     "WHERE objects.nDiaSources >= {k} AND objects.g_psfFlux > {f}"),
    ("SELECT diaObjectId, flux2mag(g_psfFlux) AS gmag FROM objects "
     "WHERE flux2mag(r_psfFlux) < {m} AND nDiaSources > {k}"),
    ("SELECT diaObjectId, mjdnow() - lastDiaSourceMjdTai AS age FROM objects "
     "WHERE ra BETWEEN {a} AND {a} + 5000 AND decl > {c}"),
    ("SELECT diaObjectId, latestR FROM objects WHERE nPosDiaSources / nDiaSources > 0.5 "
     "AND glat > {g} ORDER BY latestR DESC"),
]


def make_rows(columns: dict[str, str], n: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(n):
        row = {}
        for name, kind in columns.items():
            if kind == "int":
                row[name] = rng.randint(1, 50)
            elif kind == "float":
                row[name] = rng.uniform(-500.0, 50000.0)
            elif kind == "text":
                row[name] = rng.choice(["SN 2026abc", None, "AT 2026xyz"])
        row["diaObjectId"] = 170000000000000000 + i
        rows.append(row)
    return rows


def main() -> None:
    rng = random.Random(1)
    catalogue = lsst_catalogue()
    rows = make_rows(dict(catalogue.tables["objects"]), N_OBJECTS, rng)
    texts = [rng.choice(TEMPLATES).format(
        k=rng.randint(45, 50), f=rng.uniform(40000, 50000), m=rng.uniform(20, 20.3),
        a=rng.uniform(0, 40000), c=rng.uniform(40000, 50000), g=rng.uniform(45000, 50000))
        for _ in range(N_FILTERS)]

    t0 = time.perf_counter()
    filters = [validate_filter(t, catalogue, name=f"f{i}") for i, t in enumerate(texts)]
    t_validate = time.perf_counter() - t0
    engine = BatchEngine(catalogue)
    t0 = time.perf_counter()
    for vf in filters:
        engine.prepare(vf)
    t_compile = time.perf_counter() - t0

    loads, runs, matched = [], [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        engine.load("objects", rows)
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        matched = 0
        for vf in filters:
            matched += len(engine.run(vf, timeout_s=10.0, row_cap=1000).rows)
        runs.append(time.perf_counter() - t0)
    texts_sqlite = [engine.prepare(vf) for vf in filters]
    conn = engine._conn  # baseline: the same statements through bare sqlite3, no wrapper
    bare = []
    for _ in range(3):
        t0 = time.perf_counter()
        for text in texts_sqlite:
            conn.execute(text).fetchmany(1001)
        bare.append(time.perf_counter() - t0)
    cols = len(catalogue.tables["objects"])
    print(f"objects: {N_OBJECTS} rows x {cols} columns; {N_FILTERS} filters; {matched} rows matched per batch")
    print(f"validate once: {t_validate * 1e3 / N_FILTERS:.2f} ms/filter; "
          f"compile once: {t_compile * 1e3 / N_FILTERS:.2f} ms/filter")
    print(f"load batch:    {min(loads) * 1e3:.1f} ms (best of {len(loads)})")
    best = min(runs)
    print(f"run all:       {best * 1e3:.0f} ms per batch = {N_FILTERS / best:,.0f} filters/s "
          f"({best * 1e6 / N_FILTERS:.0f} us/filter; median {sorted(runs)[len(runs) // 2] * 1e3:.0f} ms)")
    print(f"bare sqlite3:  {min(bare) * 1e3:.0f} ms per batch (same SQL, no deadline/dicts/wrapper)")


if __name__ == "__main__":
    main()
