"""Benchmark the store: ``store_alerts`` and the feature computation, in alerts per second.

    python benchmarks/bench_store.py [--alerts 1000] [--history 30] [--pg URL]

Two batches per engine, each of ``--alerts`` alerts for distinct objects with ``--history``
previous diaSources (records of ~100 fields shaped like Rubin's: floats, nulls, flags, ints):

- cold: every source is new (a fresh store: all payloads serialised and inserted);
- warm: the steady state, each alert brings one new diaSource and repeats its stored history.

Each is run through the drivers' bulk path (:mod:`skysift.store.statements`) and through
SQLAlchemy's executemany (the previous design), interleaved, and the ratio printed.

PostgreSQL runs when ``--pg`` is given (an admin URL; each run uses a fresh database named
skysift_bench_<random>, dropped afterwards). Each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from skysift.alerts.model import Alert
from skysift.features.compute import compute_features
from skysift.store import statements
from skysift.store.database import open_store
from skysift.features.update import store_alerts

BANDS = "ugrizy"


def _source(rng: np.random.Generator, sid: int, oid: int, t: float) -> dict:
    # like a Rubin diaSource: ~98 fields, a third floats, the rest nulls, flags and ints
    rec: dict = {f"f{k}": float(rng.normal()) for k in range(28)}
    rec.update({f"n{k}": None for k in range(25)})
    rec.update({f"flag{k}": bool(k % 3 == 0) for k in range(25)})
    rec.update({f"i{k}": int(rng.integers(0, 5000)) for k in range(8)})
    rec.update(diaSourceId=sid, diaObjectId=oid, midpointMjdTai=t, band=BANDS[sid % 6],
               psfFlux=float(rng.normal(1000, 500)), psfFluxErr=float(rng.uniform(50, 200)),
               reliability=float(rng.random()), ra=10.0 + oid % 300, dec=-20.0, snr=5.0,
               visit=sid, detector=3)
    return rec


def make_batches(n: int, history: int, seed: int = 0) -> tuple[list[Alert], list[Alert]]:
    """(cold, warm): warm alerts are the next detection of the cold alerts' objects."""
    rng = np.random.default_rng(seed)
    cold, warm = [], []
    for k in range(n):
        oid = 169298432598474793 + k
        srcs = [_source(rng, oid * 0 + 2**60 + k * 1000 + j, oid, 60900.0 + j)
                for j in range(history + 2)]
        obj = {"diaObjectId": oid, "ra": 10.0 + k % 300, "dec": -20.0,
               "validityStartMjdTai": 60900.0 + history, "lastDiaSourceMjdTai": 60900.0 + history}
        obj.update({f"{b}_psfFluxSigma": 1.0 for b in BANDS})
        cold.append(Alert(diaSourceId=srcs[history]["diaSourceId"], diaObjectId=oid,
                          diaSource=srcs[history], prvDiaSources=srcs[:history], diaObject=obj))
        obj2 = dict(obj, validityStartMjdTai=60901.0 + history)
        warm.append(Alert(diaSourceId=srcs[history + 1]["diaSourceId"], diaObjectId=oid,
                          diaSource=srcs[history + 1], prvDiaSources=srcs[1:history + 1],
                          diaObject=obj2))
    return cold, warm


def bench_engine(url: str, cold: list[Alert], warm: list[Alert]) -> dict[str, float]:
    """Seconds per batch: cold (fresh store), then warm (the next alert of every object)."""
    engine = open_store(url)
    out = {}
    try:
        for name, batch in (("cold", cold), ("warm", warm)):
            t0 = time.perf_counter()
            with engine.begin() as conn:
                store_alerts(conn, batch)
            out[name] = time.perf_counter() - t0
    finally:
        engine.dispose()
    return out


def best_of(repeats: int, make_url, cold: list[Alert], warm: list[Alert]
            ) -> dict[str, dict[str, float]]:
    """The fastest of ``repeats`` runs on fresh stores (the machine may be shared), of the
    driver's bulk path and of SQLAlchemy's executemany (the previous design), interleaved."""
    runs: dict[str, list[dict[str, float]]] = {"bulk": [], "sqlalchemy": []}
    for _ in range(repeats):
        for design, results in runs.items():
            statements.BULK_DRIVER = design == "bulk"
            results.append(bench_engine(make_url(), cold, warm))
    statements.BULK_DRIVER = True
    return {d: {k: min(r[k] for r in rs) for k in rs[0]} for d, rs in runs.items()}


def report(dialect: str, n: int, res: dict[str, dict[str, float]]) -> None:
    for k, v in res["bulk"].items():
        old = res["sqlalchemy"][k]
        print(f"{dialect:10s} store_alerts {k}: {v:6.3f} s per {n} alerts = {n / v:8.0f} "
              f"alerts/s; {old / v:4.2f}x SQLAlchemy's executemany ({n / old:6.0f} alerts/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--pg", help="PostgreSQL admin URL, e.g. "
                        "postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    cold, warm = make_batches(args.alerts, args.history)
    n = args.alerts

    curves = [[a.diaSource, *a.prvDiaSources] for a in warm]
    t0 = time.perf_counter()
    for c, a in zip(curves, warm, strict=True):
        compute_features(c, [], a.diaObject)
    dt = time.perf_counter() - t0
    print(f"compute_features one object at a time: {n / dt:8.0f} objects/s "
          f"({args.history + 1} sources each)")

    with tempfile.TemporaryDirectory() as tmp:
        res = best_of(args.repeat, lambda: f"sqlite:///{Path(tmp) / uuid.uuid4().hex}.db",
                      cold, warm)
    report("sqlite", n, res)

    if args.pg:
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        names: list[str] = []

        def fresh_pg() -> str:
            names.append("skysift_bench_" + uuid.uuid4().hex[:8])
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{names[-1]}"'))
            return args.pg.rsplit("/", 1)[0] + "/" + names[-1]

        try:
            report("postgresql", n, best_of(args.repeat, fresh_pg, cold, warm))
        finally:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


if __name__ == "__main__":
    main()
