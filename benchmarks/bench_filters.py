"""Batch filter engine: 1,000 filters over a batch of 1,000 objects rows (~130 columns).

Prints the time to load a batch, to validate and compile the filters once, and to run all of
them over one batch (filters/s), for the run with cached compiled SQL; then the alternatives that
were measured before choosing the design:

- the batch table with every ``objects`` column ("wide") against one holding only the columns the
  filters read ("narrow", what the pipeline does: BatchEngine.keep_columns);
- no batch database at all: every filter on the store itself, restricted to the batch's ids
  (``AND objects.diaObjectId IN (...)``), on SQLite and on PostgreSQL, with 100,000 objects stored.

    python benchmarks/bench_filters.py [--database postgresql://...] [--store-rows 100000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from skysift.filters.catalogue import catalogue as product_catalogue
from skysift.filters.batch import BatchEngine
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


def run_batch(engine: BatchEngine, filters) -> tuple[float, int]:
    """Best time of 5 runs of every filter over the loaded batch, and the rows matched."""
    runs, matched = [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        matched = 0
        for vf in filters:
            matched += len(engine.run(vf, timeout_s=10.0, row_cap=1000).rows)
        runs.append(time.perf_counter() - t0)
    return min(runs), matched


def on_store(url: str, catalogue, batch_rows, filters, n_store: int, rng) -> tuple[float, int]:
    """Every filter on a store table of ``n_store`` objects, restricted to the batch's ids."""
    import sqlalchemy as sa

    from skysift.filters.compile import compile_filter
    from skysift.filters.engine import run_query

    types = {"int": sa.BigInteger, "float": sa.Float(53), "text": sa.Text, "bool": sa.Boolean,
             "json": sa.Text}
    meta = sa.MetaData()
    cols = catalogue.tables["objects"]
    table = sa.Table("objects", meta, *[
        sa.Column(c, types[k], primary_key=(c == "diaObjectId"), autoincrement=False)
        for c, k in cols.items()])
    engine = sa.create_engine(url)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        meta.drop_all(conn)
        meta.create_all(conn)
        others = make_rows(dict(cols), n_store - len(batch_rows), rng)
        for i, r in enumerate(others):
            r["diaObjectId"] = 100_000_000_000_000_000 + i
        for start in range(0, len(others), 10_000):
            conn.execute(table.insert(), others[start:start + 10_000])
        conn.execute(table.insert(), batch_rows)
    ids = [r["diaObjectId"] for r in batch_rows]
    best, matched = float("inf"), 0
    try:
        for _ in range(2):
            with engine.connect() as conn:
                t0 = time.perf_counter()
                matched = 0
                for vf in filters:
                    sql = compile_filter(vf, dialect, restrict_ids=ids)
                    matched += len(run_query(conn, sql, dialect=dialect, timeout_s=10.0,
                                             row_cap=1000).rows)
                best = min(best, time.perf_counter() - t0)
    finally:
        with engine.begin() as conn:
            meta.drop_all(conn)
        engine.dispose()
    return best, matched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="PostgreSQL for the on-the-store alternative ('' to skip)")
    ap.add_argument("--store-rows", type=int, default=100_000)
    args = ap.parse_args()
    rng = random.Random(1)
    catalogue = product_catalogue()
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
        runs.append(time.perf_counter() - t0)  # the wide table: every objects column
    texts_sqlite = [engine.prepare(vf) for vf in filters]
    conn = engine._conn  # baseline: the same statements through bare sqlite3, no wrapper
    bare = []
    for _ in range(3):
        t0 = time.perf_counter()
        for text in texts_sqlite:
            conn.execute(text).fetchmany(1001)
        bare.append(time.perf_counter() - t0)
    cols = len(catalogue.tables["objects"])
    print(f"objects: {N_OBJECTS} rows x {cols} columns; {N_FILTERS} filters; {matched} rows "
          "matched per batch")
    print(f"validate once: {t_validate * 1e3 / N_FILTERS:.2f} ms/filter; "
          f"compile once: {t_compile * 1e3 / N_FILTERS:.2f} ms/filter")
    print(f"load batch:    {min(loads) * 1e3:.1f} ms (best of {len(loads)})")
    best = min(runs)
    print(f"run all:       {best * 1e3:.0f} ms per batch = {N_FILTERS / best:,.0f} filters/s "
          f"({best * 1e6 / N_FILTERS:.0f} us/filter; median "
          f"{sorted(runs)[len(runs) // 2] * 1e3:.0f} ms)")
    print(
        f"bare sqlite3:  {min(bare) * 1e3:.0f} ms per batch (same SQL, no deadline/dicts/wrapper)"
    )

    print("alternatives, every filter over one batch of 1,000 objects (best of runs):")
    wide_s, wide_n = best, matched
    print(f"  batch table, all {cols} columns:     {wide_s * 1e3:6.0f} ms  ({wide_n} rows)")
    needed = frozenset().union(*(vf.objects_columns for vf in filters))
    engine.keep_columns("objects", needed)
    engine.load("objects", rows)
    narrow_s, narrow_n = run_batch(engine, filters)
    assert narrow_n == wide_n, (narrow_n, wide_n)
    print(f"  batch table, the {len(needed)} columns read: {narrow_s * 1e3:6.0f} ms  "
          f"({narrow_n} rows; {wide_s / narrow_s:.1f}x faster: the pipeline's choice)")
    urls = [("SQLite store", "sqlite:///" + str(Path(tempfile.mkdtemp()) / "store.db"))]
    if args.database:
        urls.append(("PostgreSQL store", args.database))
    for label, url in urls:
        try:
            store_s, store_n = on_store(url, catalogue, rows, filters, args.store_rows, rng)
        except Exception as exc:  # e.g. no PostgreSQL here
            print(f"  {label}: skipped ({str(exc).splitlines()[0]})")
            continue
        assert store_n == wide_n, (label, store_n, wide_n)
        print(f"  {label} ({args.store_rows:,} objects), restricted to the batch's ids: "
              f"{store_s * 1e3:6.0f} ms  ({store_s / narrow_s:.1f}x the narrow batch table)")


if __name__ == "__main__":
    main()
