"""A corpus of good, corrupt and absurd alerts, all made from the real LSSTCam alerts in
src/skysift/data/sample_alerts (schema 9.0, Rubin's Kafka framing).

Every good alert is a real one with a new object, a short history (3 previous diaSources, 3
forced sources) and a new position. Every bad one is a good one with one thing wrong, of the kinds
a red team fed the broker: NaN/inf/absurd values in the triggering diaSource, the diaObject or a
history item, impossible bands and positions, negative ids, a diaSourceId sent twice with another
flux, bytes that are not an alert, and (files only) JSON alerts that break a JSON reader or carry
ids beyond 64 bits.

Each :class:`Case` says what must happen to it:

``stored``       stored, a record produced, nothing dead-lettered;
``nulled``       stored, with the named column NULL (a warning, no dead letter);
``refused``      dead-lettered, the reason naming the field (``why``);
``undecodable``  dead-lettered as not an alert;
``poison``       passes every check but makes processing fail; found alone, dead-lettered.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skysift.alerts.encode import encode_wire, frame, load_wire_record

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "skysift" / "data" / "sample_alerts"
NAN, INF = float("nan"), float("inf")


@dataclass
class Case:
    name: str
    data: bytes
    expect: str  # stored | nulled | refused | undecodable | poison
    why: str = ""  # a part of the dead letter's reason, or the NULL column ("table.column")
    form: str = "wire"  # wire | json
    object_id: int | None = None
    source_id: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def real_records() -> list[dict[str, Any]]:
    out = []
    for f in sorted(SAMPLES.glob("*.avro")):
        rec, sid = load_wire_record(f)
        if sid == 900 and rec.get("diaObject") is not None:
            out.append(rec)
    assert len(out) >= 5, f"too few real alerts in {SAMPLES}"
    return out


def good_record(base: dict[str, Any], oid: int, rng: random.Random) -> dict[str, Any]:
    """A real alert made a new object ``oid`` with 3 previous detections and 3 forced ones."""
    rec = copy.deepcopy(base)
    for k in ("cutoutDifference", "cutoutScience", "cutoutTemplate"):
        rec[k] = None
    ra, dec = rng.uniform(0, 360), rng.uniform(-80, 30)
    t = 60924.3 + rng.random()
    src = dict(rec["diaSource"], diaSourceId=oid, diaObjectId=oid, ra=ra, dec=dec,
               midpointMjdTai=t, psfFlux=rng.uniform(1000, 9000), reliability=0.8)
    prv = [dict(src, diaSourceId=oid + 1 + k, midpointMjdTai=t - 1 - k, band="gri"[k],
                psfFlux=rng.uniform(500, 5000)) for k in range(3)]
    forced = [{"diaForcedSourceId": oid + 51 + k, "diaObjectId": oid, "ra": ra, "dec": dec,
               "visit": 2025090500000 + k, "detector": 1, "psfFlux": rng.uniform(-300, 800),
               "psfFluxErr": 150.0, "midpointMjdTai": t - 1.5 - k, "scienceFlux": None,
               "scienceFluxErr": None, "band": "r", "timeProcessedMjdTai": t,
               "timeWithdrawnMjdTai": None} for k in range(3)]
    obj = dict(rec["diaObject"], diaObjectId=oid, ra=ra, dec=dec, nDiaSources=4)
    rec.update(diaSourceId=oid, diaSource=src, prvDiaSources=prv, prvDiaForcedSources=forced,
               diaObject=obj)
    return rec


def _wire(rec: dict[str, Any]) -> bytes:
    return encode_wire(rec, 9, 0)


def _json(rec: dict[str, Any]) -> bytes:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(rec)).encode()


#: (name, expect, why, mutate(record)) for valid-Avro alerts with something wrong.
def _set(path: str, value: Any):
    """A mutation setting ``path`` ("diaSource.band", "prvDiaSources.1.midpointMjdTai")."""
    def mutate(rec: dict[str, Any]) -> None:
        parts = path.split(".")
        target: Any = rec
        for p in parts[:-1]:
            target = target[int(p)] if p.isdigit() else target[p]
        target[parts[-1]] = value
    return mutate


def _ids(value: int):
    def mutate(rec: dict[str, Any]) -> None:
        rec["diaSourceId"] = value
        rec["diaSource"]["diaSourceId"] = value
    return mutate


def _object_id(value: int):
    def mutate(rec: dict[str, Any]) -> None:
        rec["diaSource"]["diaObjectId"] = value
        rec["diaObject"]["diaObjectId"] = value
    return mutate


WIRE_MUTATIONS: list[tuple[str, str, str, Any]] = [
    ("trigger MJD NaN", "refused", "diaSource.midpointMjdTai is nan",
     _set("diaSource.midpointMjdTai", NAN)),
    ("trigger MJD 1e9", "refused", "diaSource.midpointMjdTai is 1000000000.0",
     _set("diaSource.midpointMjdTai", 1e9)),
    ("trigger MJD 0", "refused", "diaSource.midpointMjdTai is 0.0",
     _set("diaSource.midpointMjdTai", 0.0)),
    ("trigger band NUL", "refused", "diaSource.band is 'r\\x00'", _set("diaSource.band", "r\x00")),
    ("trigger band empty", "refused", "diaSource.band is ''", _set("diaSource.band", "")),
    ("trigger band 5000 chars", "refused", "diaSource.band is 'rrrr",
     _set("diaSource.band", "r" * 5000)),
    ("trigger ra NaN", "refused", "diaSource.ra is nan", _set("diaSource.ra", NAN)),
    ("trigger ra 1e300", "refused", "diaSource.ra is 1e+300", _set("diaSource.ra", 1e300)),
    ("trigger dec 95", "refused", "diaSource.dec is 95.0", _set("diaSource.dec", 95.0)),
    ("trigger flux NaN", "refused", "diaSource.psfFlux is nan", _set("diaSource.psfFlux", NAN)),
    ("trigger flux inf", "refused", "diaSource.psfFlux is inf", _set("diaSource.psfFlux", INF)),
    ("trigger flux -1e30", "refused", "diaSource.psfFlux is -1.0000000150474662e+30",
     _set("diaSource.psfFlux", -1e30)),
    ("negative diaSourceId", "refused", "diaSource.diaSourceId is -", None),  # set per case
    ("negative diaObjectId", "refused", "diaSource.diaObjectId is -", None),
    ("history MJD NaN", "refused", "prvDiaSources[1].midpointMjdTai is nan",
     _set("prvDiaSources.1.midpointMjdTai", NAN)),
    ("history band NUL", "refused", "prvDiaSources[0].band is 'r\\x00'",
     _set("prvDiaSources.0.band", "r\x00")),
    ("history dec 95", "refused", "prvDiaSources[2].dec is 95.0",
     _set("prvDiaSources.2.dec", 95.0)),
    ("history ra inf", "refused", "prvDiaSources[0].ra is inf", _set("prvDiaSources.0.ra", INF)),
    ("forced MJD NaN", "refused", "prvDiaForcedSources[0].midpointMjdTai is nan",
     _set("prvDiaForcedSources.0.midpointMjdTai", NAN)),
    ("forced band empty", "refused", "prvDiaForcedSources[2].band is ''",
     _set("prvDiaForcedSources.2.band", "")),
    ("history negative id", "refused", "prvDiaSources[1].diaSourceId is -",
     _set("prvDiaSources.1.diaSourceId", -12345)),
    ("diaObject ra 1e300", "refused", "diaObject.ra is 1e+300", _set("diaObject.ra", 1e300)),
    ("diaObject dec -91", "refused", "diaObject.dec is -91.0", _set("diaObject.dec", -91.0)),
    # kept, with NULL where the value is impossible
    ("trigger reliability 7.5", "nulled", "sources.reliability",
     _set("diaSource.reliability", 7.5)),
    ("trigger error negative", "nulled", "sources.psfFluxErr", _set("diaSource.psfFluxErr", -5.0)),
    ("trigger snr inf", "nulled", "sources.snr", _set("diaSource.snr", INF)),
    ("history flux inf", "nulled", "sources.psfFlux@1", _set("prvDiaSources.0.psfFlux", INF)),
    ("history flux -1e30", "nulled", "sources.psfFlux@2", _set("prvDiaSources.1.psfFlux", -1e30)),
    ("forced flux -1e30", "nulled", "forced_sources.psfFlux@51",
     _set("prvDiaForcedSources.0.psfFlux", -1e30)),
    ("forced error negative", "nulled", "forced_sources.psfFluxErr@52",
     _set("prvDiaForcedSources.1.psfFluxErr", -1.0)),
    ("diaObject max inf", "nulled", "objects.g_psfFluxMax", _set("diaObject.g_psfFluxMax", INF)),
]


def corpus(first_id: int, *, copies: int = 5, good: int = 50, with_json: bool = False,
           seed: int = 7) -> list[Case]:
    """Good and bad alerts in a shuffled order, object ids from ``first_id`` (steps of 100)."""
    rng = random.Random(seed)
    reals = real_records()
    cases: list[Case] = []
    next_id = first_id

    def new_id() -> int:
        nonlocal next_id
        next_id += 100
        return next_id

    goods: list[dict[str, Any]] = []
    for k in range(good):
        oid = new_id()
        rec = good_record(reals[k % len(reals)], oid, rng)
        goods.append(rec)
        cases.append(Case(f"good {k}", _wire(rec), "stored", object_id=oid, source_id=oid))
    for name, expect, why, mutate in WIRE_MUTATIONS:
        for c in range(copies):
            oid = new_id()
            rec = good_record(reals[c % len(reals)], oid, rng)
            if name == "negative diaSourceId":
                mutate = _ids(-oid)
            elif name == "negative diaObjectId":
                mutate = _object_id(-oid)
            mutate(rec)
            cases.append(Case(f"{name} #{c}", _wire(rec), expect, why, object_id=oid,
                              source_id=rec["diaSourceId"]))
    # the same diaSourceId as a good alert, with another flux: the later one is refused
    for c in range(copies):
        twin = copy.deepcopy(goods[c])
        twin["diaSource"]["psfFlux"] = twin["diaSource"]["psfFlux"] + 1234.5
        cases.append(Case(f"same diaSourceId, other flux #{c}", _wire(twin), "refused",
                          "with other values", object_id=twin["diaObjectId"] if "diaObjectId"
                          in twin else twin["diaSource"]["diaObjectId"],
                          source_id=twin["diaSourceId"], tags={"twin": True}))
    # bytes that are not an alert
    sample = cases[0].data
    undecodable = [
        ("truncated", sample[: len(sample) // 2], "ends before"),
        ("garbage body", sample[:5] + bytes(rng.getrandbits(8) for _ in range(300)), ""),
        ("unknown schema id", frame(9999, sample[5:]), "9999"),
        ("empty", b"", ""),
        ("random bytes", bytes(rng.getrandbits(8) for _ in range(2000)), ""),
        ("JSON on the wire", b'{"diaSourceId": 1}', ""),
    ]
    for c in range(copies):
        for name, data, why in undecodable:
            cases.append(Case(f"{name} #{c}", data, "undecodable", why))
    if with_json:
        cases.extend(json_cases(reals, new_id, rng, copies))
    order = rng.sample(range(len(cases)), len(cases))
    shuffled = [cases[i] for i in order]
    # a twin must come after its original (the first of a diaSourceId is the one kept)
    originals = {c.source_id: i for i, c in enumerate(shuffled) if c.expect == "stored"}
    for i, case in enumerate(list(shuffled)):
        if case.tags.get("twin"):
            j = originals[case.source_id]
            if j > i:
                shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
                originals[case.source_id] = i
    return shuffled


def json_cases(reals: list[dict[str, Any]], new_id: Any, rng: random.Random,
               copies: int) -> list[Case]:
    """JSON alert files: what made the old file reader crash, and a real poison."""
    out: list[Case] = []
    for c in range(copies):
        oid = new_id()
        out.append(Case(f"json good #{c}", _json(good_record(reals[c % len(reals)], oid, rng)),
                        "stored", form="json", object_id=oid, source_id=oid))
        out.append(Case(f"json nested 100000 deep #{c}", b"[" * 100_000 + b"]" * 100_000,
                        "undecodable", "nested too deeply", form="json"))
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        rec["diaSource"]["psfFlux"] = "abc"
        out.append(Case(f"json string flux #{c}", _json(rec), "refused",
                        "diaSource.psfFlux is 'abc'", form="json", object_id=oid))
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        del rec["prvDiaSources"][1]["midpointMjdTai"]
        out.append(Case(f"json history without MJD #{c}", _json(rec), "refused",
                        "prvDiaSources[1].midpointMjdTai is missing", form="json",
                        object_id=oid))
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        rec["diaSourceId"] = rec["diaSource"]["diaSourceId"] = 2**64 + oid
        out.append(Case(f"json id >= 2**64 #{c}", _json(rec), "refused",
                        "diaSource.diaSourceId is 184467440", form="json", object_id=oid))
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        rec["prvDiaForcedSources"][0]["diaForcedSourceId"] = 2**63 + 5
        out.append(Case(f"json id >= 2**63 #{c}", _json(rec), "refused",
                        "prvDiaForcedSources[0].diaForcedSourceId is 9223372036854775813",
                        form="json", object_id=oid))
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        rec["diaObject"]["r_psfFluxNdata"] = 2**40
        out.append(Case(f"json count >= 2**31 #{c}", _json(rec), "nulled",
                        "objects.r_psfFluxNdata", form="json", object_id=oid, source_id=oid))
        # passes every check, but its payload cannot be written as JSON (a lone surrogate):
        # the store raises, and only splitting the batch finds it
        oid = new_id()
        rec = good_record(reals[c % len(reals)], oid, rng)
        rec["diaSource"]["note"] = "\ud800"
        out.append(Case(f"json lone surrogate #{c}", json.dumps(rec).encode(), "poison",
                        "surrogates not allowed", form="json", object_id=oid, source_id=oid))
    return out


def good_alerts(n: int, first_id: int, seed: int = 3) -> list[tuple[int, bytes]]:
    """``n`` good alerts (object id, Rubin-framed bytes), objects ``first_id + 100 k``."""
    rng = random.Random(seed)
    reals = real_records()
    out = []
    for k in range(n):
        oid = first_id + 100 * k
        out.append((oid, _wire(good_record(reals[k % len(reals)], oid, rng))))
    return out
