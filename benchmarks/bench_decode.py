"""Decode rate of Rubin-framed alerts carrying 30 and 300 previous sources (one core).

Synthetic alerts are built from a real LSSTCam alert (the bundled sample): its own diaSource copied
as the previous sources and forced sources, cutouts kept, re-encoded with the official 9.0 schema.
Prints alerts/s for fastavro decoding alone and for decode_message (decode + normalise).

    python benchmarks/bench_decode.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import io
import time
from importlib import resources
from pathlib import Path

import fastavro

from skysift.alerts.decode import decode_message
from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.alerts.model import AlertOrigin
from skysift.alerts.schemas import schema_for_id

SAMPLE = "169298432627310934.avro"


def synthetic(n_prv: int) -> bytes:
    path = Path(str(resources.files("skysift").joinpath("data", "sample_alerts", SAMPLE)))
    record, _ = load_wire_record(path)
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
    record["prvDiaForcedSources"] = [dict(forced, diaForcedSourceId=i) for i in range(n_prv)]
    return encode_wire(record, 9, 0)


def rate(fn, seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    schema = schema_for_id(900)
    origin = AlertOrigin(topic="bench", partition=0, offset=0)
    for n_prv in (0, 30, 300):
        data = synthetic(n_prv)
        body = data[5:]
        raw = rate(lambda b=body: fastavro.schemaless_reader(io.BytesIO(b), schema, None),
                   args.seconds)
        full = rate(lambda d=data: decode_message(d, origin), args.seconds)
        print(f"prvDiaSources={n_prv:3d} (+{n_prv} forced), {len(data):7d} bytes: "
              f"fastavro {raw:8.1f} alerts/s, decode_message {full:8.1f} alerts/s")


if __name__ == "__main__":
    main()
