"""Real Rubin alerts for store and feature tests, and light curves grown from them.

Real files: tests/data/rubin (copied by the alert-decoding work) or, on a development machine,
/work/shared/data/rubin. Until ``skysift.alerts.files.read_alerts`` exists, records are decoded here
with fastavro and the lsst-alert-packet schema named by the 5-byte Rubin header.

The real alerts come from the first LSSTCam nights and carry no history, so
:func:`grown_light_curves` builds mature light curves by cloning real diaSource/diaObject records
(every field kept) with new ids, times, bands and fluxes drawn from a seeded generator.
"""

from __future__ import annotations

import copy
import io
import struct
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from skysift.alerts.model import Alert, AlertOrigin

HERE = Path(__file__).resolve().parent
DATA_DIRS = (HERE.parent / "data" / "rubin",
             HERE.parent.parent.parent / "shared" / "data" / "rubin")
BANDS = ("u", "g", "r", "i", "z", "y")


def rubin_files() -> list[Path]:
    for d in DATA_DIRS:
        files = sorted(d.rglob("*.avro"))
        if files:
            return files
    return []


@cache
def _schema(schema_id: int) -> Any:
    import fastavro
    from lsst.alert import packet

    major, minor = divmod(schema_id, 100)
    base = Path(packet.__file__).parent / "schema" / str(major) / str(minor)
    named: dict[str, Any] = {}
    parsed = None
    names = sorted(p.name for p in base.glob("*.avsc"))
    names = [n for n in names if not n.endswith(".alert.avsc")] + [
        n for n in names if n.endswith(".alert.avsc")]
    for name in names:
        parsed = fastavro.schema.load_schema(base / name, named_schemas=named)
    return parsed


def decode(path: Path) -> dict[str, Any]:
    import fastavro

    raw = path.read_bytes()
    magic, schema_id = struct.unpack(">bI", raw[:5])
    assert magic == 0, path
    return fastavro.schemaless_reader(io.BytesIO(raw[5:]), _schema(schema_id))


def to_alert(record: dict[str, Any], path: Path | None = None) -> Alert:
    record = {k: v for k, v in record.items() if not k.startswith("cutout")}
    source = record.pop("diaSource")
    dia_object = record.pop("diaObject", None)
    oid = dia_object["diaObjectId"] if dia_object else (source.get("diaObjectId") or None)
    return Alert(
        diaSourceId=record.pop("diaSourceId"),
        diaObjectId=oid,
        diaSource=source,
        prvDiaSources=record.pop("prvDiaSources", None) or [],
        prvDiaForcedSources=record.pop("prvDiaForcedSources", None) or [],
        diaObject=dia_object,
        extra=record,
        schema_version="9.0",
        origin=AlertOrigin(path=str(path) if path else None),
    )


def real_alerts() -> list[Alert]:
    """Every real alert available, decoded (empty list when no data is present)."""
    try:
        from skysift.alerts.files import read_alerts  # the project's decoder, once it exists
    except ImportError:
        return [to_alert(decode(p), p) for p in rubin_files()]
    out: list[Alert] = []
    for p in rubin_files():
        out.extend(read_alerts(p))
    return out


def grown_light_curves(n_objects: int, n_alerts: int, *, seed: int = 1, history: int = 30,
                       n_forced: int = 3, first_object_id: int = 169298432598474793,
                       ) -> list[Alert]:
    """Alerts of ``n_objects`` objects, ``n_alerts`` each, every one carrying the previous
    ``history`` diaSources of its object (as Rubin's alerts do) and some forced sources.

    Records are deep copies of real ones with new values. Objects get ids ``first_object_id + k``
    (64-bit, above 2**53); diaSourceIds and diaForcedSourceIds are above 2**62.
    """
    reals = [a for a in real_alerts() if a.diaObject is not None]
    if not reals:
        import pytest

        pytest.skip("no real Rubin alert files (tests/data/rubin or /work/shared/data/rubin)")
    rng = np.random.default_rng(seed)
    alerts: list[Alert] = []
    next_source = 2**62 + 12345
    next_forced = 2**62 + 9_000_000_000
    for k in range(n_objects):
        template = reals[k % len(reals)]
        oid = first_object_id + k
        ra0 = float(rng.uniform(0, 360))
        dec0 = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
        times = 60900.0 + np.sort(rng.uniform(0, 200, n_alerts))
        srcs: list[dict[str, Any]] = []
        forced: list[dict[str, Any]] = []
        for j in range(n_alerts):
            s = copy.deepcopy(template.diaSource)
            s.update(
                diaSourceId=next_source, diaObjectId=oid, midpointMjdTai=float(times[j]),
                band=BANDS[int(rng.integers(0, 6))],
                psfFlux=float(rng.normal(2000.0, 3000.0)),
                psfFluxErr=float(rng.uniform(50.0, 900.0)),
                reliability=None if rng.random() < 0.1 else float(rng.random()),
                ra=ra0 + float(rng.normal(0, 1e-5)), dec=dec0 + float(rng.normal(0, 1e-5)),
            )
            if rng.random() < 0.05:
                s["psfFlux"] = None
            next_source += int(rng.integers(1, 1000))
            srcs.append(s)
            for _ in range(n_forced if j == 0 else 1):
                forced.append({
                    "diaForcedSourceId": next_forced, "diaObjectId": oid, "ra": ra0, "dec": dec0,
                    "visit": 2025090500000 + j, "detector": 5,
                    "psfFlux": float(rng.normal(0, 300)), "psfFluxErr": 120.0,
                    "midpointMjdTai": float(times[j]) - float(rng.uniform(1, 3)),
                    "band": BANDS[int(rng.integers(0, 6))],
                    "timeProcessedMjdTai": float(times[j]), "timeWithdrawnMjdTai": None,
                })
                next_forced += 1
            obj = copy.deepcopy(template.diaObject)
            obj.update(diaObjectId=oid, ra=ra0, dec=dec0,
                       validityStartMjdTai=float(times[j]) + 0.01,
                       lastDiaSourceMjdTai=float(times[j]), nDiaSources=j + 1,
                       r_psfFluxSigma=float(rng.uniform(1, 100)))
            alerts.append(Alert(
                diaSourceId=s["diaSourceId"], diaObjectId=oid, diaSource=s,
                prvDiaSources=copy.deepcopy(srcs[max(0, j - history):j]),
                prvDiaForcedSources=copy.deepcopy(forced[-(history + n_forced):]),
                diaObject=obj, schema_version="9.0",
            ))
    return alerts
