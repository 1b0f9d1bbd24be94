"""A columnar decode of Rubin alerts (polars' Avro reader), against fastavro and skysift's own path.

Issue 16 asks for 3.0x fastavro's full-decode rate in the steady state and 1.5x for a cold store.
skysift decodes alert by alert in Python (a generated reader, history projected) and builds the
store's history rows item by item. A columnar reader decodes a whole batch in compiled code into
columns, from which the rows come without a Python step per item. This measures whether that is
the way to the targets, on the pipeline benchmark's synthetic night (bench_pipeline.encode_night):

- ``fastavro``: ``schemaless_reader`` of every alert, every field (the reference of the ratios);
- ``polars, every field``: the batch framed as one Avro container block (the Rubin 5-byte header
  dropped, the schema's named types written out in place) and read by ``polars.read_avro``;
- ``skysift decode``: ``decode_message`` alert by alert (history projected, cutouts stepped over);
- ``polars, store rows``: the five columns the store reads, the history exploded into the rows
  the store inserts (``sources`` and ``forced_sources`` columns and payload), duplicates dropped;
- ``skysift, store rows``: ``decode_message`` and the store's row builders (features.update's
  ``_source_row``/``_forced_row``) over the same history, duplicates dropped.

Before timing, polars' values are checked against fastavro's, field by field, for every alert of
the night and every real alert in ../shared/data/rubin, and the two ways to the store's history
rows must give the same rows. Needs polars (``pip install -e '.[bench]'``, done by ``make bench``).

    python benchmarks/bench_columnar.py [--alerts 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fastavro

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "data" / "rubin"

SYNC = bytes(range(16))
_SOURCE = ["diaSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr",
           "reliability", "ra", "dec", "snr"]
_FORCED = ["diaForcedSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux",
           "psfFluxErr"]


def _long(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _bytes(b: bytes) -> bytes:
    return _long(len(b)) + b


def written_out(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every reference to a named record replaced by a renamed copy of it
    (polars' reader answers "OutOfSpec" to a named type used a second time)."""
    named: dict[str, dict[str, Any]] = {}

    def walk(t: Any) -> Any:
        if isinstance(t, str):
            if t not in named:
                return t
            again = copy.deepcopy(named[t])
            again["name"] = f"{again['name']}_{len(named)}"
            named[again["name"]] = again
            return again
        if isinstance(t, list):
            return [walk(x) for x in t]
        if t.get("type") == "record":
            named[t["name"]] = t
            t["fields"] = [dict(f, type=walk(f["type"])) for f in t["fields"]]
        elif t.get("type") == "array":
            t["items"] = walk(t["items"])
        elif t.get("type") == "map":
            t["values"] = walk(t["values"])
        return t

    return walk(copy.deepcopy(schema))


def container(schema_json: bytes, bodies: list[bytes]) -> bytes:
    """An Avro object container file (no codec) holding ``bodies`` in one block."""
    meta = {b"avro.schema": schema_json, b"avro.codec": b"null"}
    head = (b"Obj\x01" + _long(len(meta)) + b"".join(_bytes(k) + _bytes(v) for k, v in meta.items())
            + _long(0) + SYNC)
    blob = b"".join(bodies)
    return head + _long(len(bodies)) + _long(len(blob)) + blob + SYNC


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: fields {sorted(a.keys() ^ b.keys())} differ"
        for k in a:
            if (d := _first_difference(a[k], b[k], f"{where}.{k}")) is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (d := _first_difference(x, y, f"{where}[{i}]")) is not None:
                return d
        return None
    return None if _same(a, b) else f"{where}: fastavro {a!r}, polars {b!r}"


def check_values(messages: Iterable[tuple[str, bytes]]) -> tuple[int, list[str]]:
    """polars' record of each message against fastavro's, field by field: (alerts compared,
    differences found, each naming the alert and field)."""
    import polars as pl

    from skysift.alerts.schemas import schema_for_id

    by_schema: dict[int, list[tuple[str, bytes]]] = {}
    for name, value in messages:
        by_schema.setdefault(int.from_bytes(value[1:5], "big"), []).append((name, value))
    n, problems = 0, []
    for sid, group in by_schema.items():
        schema = schema_for_id(sid)
        parsed = fastavro.parse_schema(copy.deepcopy(schema))
        frame = pl.read_avro(io.BytesIO(container(json.dumps(written_out(schema)).encode(),
                                                  [v[5:] for _, v in group])))
        for (name, value), theirs in zip(group, frame.to_dicts(), strict=True):
            ours = fastavro.schemaless_reader(io.BytesIO(value[5:]), parsed, None)
            n += 1
            if (d := _first_difference(ours, theirs, name)) is not None:
                problems.append(d)
    return n, problems


def polars_rows(frame: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The store's new history rows (``sources`` and ``forced_sources`` columns, then the
    payload) from a frame of the history columns, duplicates dropped, sorted by id."""
    import polars as pl

    src = (frame.select(pl.col("prvDiaSources").explode()).drop_nulls()
           .unnest("prvDiaSources").select(*_SOURCE, "ssObjectId")
           .unique("diaSourceId").sort("diaSourceId")
           .with_columns(payload=pl.format('{{"ssObjectId":{}}}', pl.col("ssObjectId")
                                           .cast(pl.String).fill_null("null")))
           .drop("ssObjectId"))
    forced = (frame.select(pl.col("prvDiaForcedSources").explode()).drop_nulls()
              .unnest("prvDiaForcedSources").select(*_FORCED)
              .unique("diaForcedSourceId").sort("diaForcedSourceId")
              .with_columns(payload=pl.lit("{}")))
    return src.rows(), forced.rows()


def skysift_rows(alerts: list[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The same rows by skysift's row builders, from decoded alerts."""
    from skysift.features.update import _forced_row, _Soft, _source_row

    soft = _Soft([])
    rows, forced = {}, {}
    for a in alerts:
        for s in a.prvDiaSources:
            if s["diaSourceId"] not in rows:
                rows[s["diaSourceId"]] = _source_row(s, soft)
        for f in a.prvDiaForcedSources:
            if f["diaForcedSourceId"] not in forced:
                forced[f["diaForcedSourceId"]] = _forced_row(f, soft)
    return sorted(rows.values()), sorted(forced.values())


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(the shortest of ``repeat`` runs in seconds, the last result)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        import polars as pl
    except ImportError:
        print("polars is not installed: pip install -e '.[bench]' (make bench does)")
        return 1
    from bench_pipeline import encode_night

    from skysift.alerts.decode import decode_message
    from skysift.alerts.model import AlertOrigin
    from skysift.alerts.schemas import schema_for_id

    night = [v for v, _ in encode_night(args.alerts, seed=1)]
    real = sorted(DATA.glob("*/*.avro")) if DATA.is_dir() else []
    n, problems = check_values([*((f"night[{k}]", v) for k, v in enumerate(night)),
                                *((str(p.relative_to(DATA)), p.read_bytes()) for p in real
                                  if p.read_bytes()[:1] == b"\x00")])
    print(f"polars {pl.__version__}: values equal to fastavro's, field by field, in "
          f"{n - len(problems)} of {n} alerts ({len(night)} of the synthetic night, the rest "
          f"real: {DATA})")
    for p in problems[:5]:
        print("  differs:", p)
    if problems:
        return 1

    schema = schema_for_id(int.from_bytes(night[0][1:5], "big"))
    parsed = fastavro.parse_schema(copy.deepcopy(schema))
    schema_json = json.dumps(written_out(schema)).encode()
    history = ["prvDiaSources", "prvDiaForcedSources"]

    def fastavro_all() -> None:
        for v in night:
            fastavro.schemaless_reader(io.BytesIO(v[5:]), parsed, None)

    def polars_all() -> Any:
        return pl.read_avro(io.BytesIO(container(schema_json, [v[5:] for v in night])))

    def skysift_decode() -> list[Any]:
        return [decode_message(v, AlertOrigin(index=k)) for k, v in enumerate(night)]

    def polars_store() -> Any:
        return polars_rows(pl.read_avro(io.BytesIO(container(schema_json,
                                                             [v[5:] for v in night])),
                                        columns=history))

    def skysift_store() -> Any:
        return skysift_rows(skysift_decode())

    t_ref, _ = best(fastavro_all, args.repeat)
    t_pall, _ = best(polars_all, args.repeat)
    t_dec, _ = best(skysift_decode, args.repeat)
    t_pst, p_rows = best(polars_store, args.repeat)
    t_sst, s_rows = best(skysift_store, args.repeat)
    same = p_rows == s_rows
    print(f"history rows: {len(s_rows[0])} sources, {len(s_rows[1])} forced sources; "
          f"the two ways give {'the same rows' if same else 'DIFFERENT rows'}")
    k = len(night)
    print(f"{'per alert, best of ' + str(args.repeat):<34} {'ms':>7} {'x fastavro':>11}")
    for label, t in (("fastavro, every field", t_ref), ("polars, every field", t_pall),
                     ("skysift decode (projected)", t_dec), ("polars, store rows", t_pst),
                     ("skysift, store rows", t_sst)):
        print(f"{label:<34} {t / k * 1000:7.3f} {t_ref / t:10.2f}x")
    print(f"store rows, skysift / polars: {t_sst / t_pst:.2f}x (the part of the pipeline a "
          "columnar decode would replace)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
