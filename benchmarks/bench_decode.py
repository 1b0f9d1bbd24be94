"""Decode rate of Rubin-framed alerts with 30 and 300 previous sources, with and without as many
forced sources (one core).

Synthetic alerts are built from a real LSSTCam alert (tests/data/rubin, or the bundled sample):
its own diaSource copied as the previous sources (real field values, new ids and times) and a
forced source made of its values, cutouts kept, re-encoded with the official 9.0 schema. Columns,
in alerts/s (best of several short runs, so other load on the machine counts least):

- ``fastavro``: :func:`decode_with_fastavro`, every field read by fastavro (the reference, and the
  old default);
- ``complete``: ``decode_message(full=True)``, every field, by the generated reader;
- ``resolve``: fastavro ``schemaless_reader`` with a reader schema that drops the unwanted
  history fields and the cutouts (fastavro's own schema resolution; decode only, no normalise);
- ``projected``: ``decode_message`` (the default: history projected, cutouts stepped over);
- ``+decode_full``: the projected decode followed by :func:`decode_full` (a matched object).

    python benchmarks/bench_decode.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import copy
import io
import timeit
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro

from skysift.alerts.decode import decode_full, decode_message, decode_with_fastavro
from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.alerts.model import AlertOrigin
from skysift.alerts.project import HISTORY_FIELDS
from skysift.alerts.schemas import schema_definition, schema_for_id

SAMPLE = "169298432627310934.avro"
CASES = [(30, 0), (30, 30), (300, 0), (300, 300)]


def sample_path() -> Path:
    here = Path(__file__).resolve().parent.parent / "tests" / "data" / "rubin" / SAMPLE
    if here.is_file():
        return here
    return Path(str(resources.files("skysift").joinpath("data", "sample_alerts", SAMPLE)))


def synthetic(n_prv: int, n_forced: int) -> bytes:
    record, _ = load_wire_record(sample_path())
    src = record["diaSource"]
    record["prvDiaSources"] = [
        dict(src, diaSourceId=src["diaSourceId"] - 1 - i, midpointMjdTai=src["midpointMjdTai"] - i)
        for i in range(n_prv)
    ]
    forced = {"diaForcedSourceId": 0, "diaObjectId": src["diaObjectId"], "ra": src["ra"],
              "dec": src["dec"], "visit": src["visit"], "detector": src["detector"],
              "psfFlux": src["psfFlux"], "psfFluxErr": src["psfFluxErr"],
              "midpointMjdTai": src["midpointMjdTai"], "scienceFlux": src["scienceFlux"],
              "scienceFluxErr": src["scienceFluxErr"], "band": src["band"],
              "timeProcessedMjdTai": src["timeProcessedMjdTai"], "timeWithdrawnMjdTai": None}
    record["prvDiaForcedSources"] = [
        dict(forced, diaForcedSourceId=src["diaSourceId"] + 1 + i,
             midpointMjdTai=src["midpointMjdTai"] - 0.5 - i)
        for i in range(n_forced)
    ]
    return encode_wire(record, 9, 0)


def resolution_reader_schema(major: int, minor: int) -> dict[str, Any]:
    """The writer schema with history items cut to the wanted fields and no cutouts."""
    definition = copy.deepcopy(schema_definition(major, minor))
    named = {f["type"]["name"]: f["type"] for f in definition["fields"]
             if isinstance(f["type"], dict) and f["type"].get("type") == "record"}
    fields = []
    for f in definition["fields"]:
        if f["name"].startswith("cutout"):
            continue
        if f["name"] in HISTORY_FIELDS:
            keep = HISTORY_FIELDS[f["name"]][1]
            array = next(t for t in f["type"] if t != "null")
            items = array["items"]
            items = named[items] if isinstance(items, str) else items
            items = dict(items, name=items["name"].rsplit(".", 1)[-1],
                         namespace="skysift.projected",
                         fields=[x for x in items["fields"] if x["name"] in keep])
            f = dict(f, type=["null", dict(array, items=items)])
        fields.append(f)
    definition["fields"] = fields
    return definition


def rate(fn: Callable[[], Any], seconds: float) -> float:
    """Calls per second: the best of several runs that together last about ``seconds``."""
    timer = timeit.Timer(fn)
    number, took = timer.autorange()
    runs = max(3, int(seconds / max(took, 1e-3)))
    number = max(1, number // 4)
    return number / min(timer.repeat(runs * 4, number))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    writer = schema_for_id(900)
    reader = fastavro.parse_schema(resolution_reader_schema(9, 0))
    origin = AlertOrigin(topic="bench", partition=0, offset=0)
    print(f"{'prv':>4} {'forced':>6} {'bytes':>7} {'fastavro':>8} {'resolve':>8} {'complete':>8} "
          f"{'projected':>9} {'+decode_full':>12}  (alerts/s)")
    for n_prv, n_forced in CASES:
        data = synthetic(n_prv, n_forced)
        body = data[5:]
        full = rate(lambda d=data: decode_with_fastavro(d, origin), args.seconds)
        complete = rate(lambda d=data: decode_message(d, origin, full=True), args.seconds)
        resolve = rate(lambda b=body: fastavro.schemaless_reader(io.BytesIO(b), writer, reader),
                       args.seconds)
        fast = rate(lambda d=data: decode_message(d, origin), args.seconds)
        both = rate(lambda d=data: decode_full(decode_message(d, origin)), args.seconds)
        print(f"{n_prv:4d} {n_forced:6d} {len(data):7d} {full:8.0f} {resolve:8.0f} "
              f"{complete:8.0f} {fast:9.0f} {both:12.0f}")


if __name__ == "__main__":
    main()
