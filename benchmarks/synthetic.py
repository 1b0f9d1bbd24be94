"""A synthetic night built from real Rubin alerts, and a mix of 1,000 filters.

Every synthetic alert is a real LSSTCam alert (schema 9.0) with new ids and a new position, and a
realistic history: 0 to 300 previous detections (log-normal, median about 30) and as many forced
measurements, each copied from a real diaSource / made from one, at earlier times and in random
bands. Encoded in Rubin's Kafka framing with the official schema, as the survey sends them.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from collections.abc import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL_DIRS = [ROOT / "src" / "skysift" / "data" / "sample_alerts",
             ROOT.parent / "shared" / "data" / "rubin" / "lsstcam_v9_0_wire"]
BANDS = "ugrizy"


def real_records() -> list[dict]:
    """The real v9.0 alert records (decoded, cutouts kept as they are)."""
    from skysift.alerts.encode import load_wire_record

    out = []
    for d in REAL_DIRS:
        if d.exists():
            for f in sorted(d.glob("*.avro")):
                rec, schema_id = load_wire_record(f)
                if schema_id == 900 and rec.get("diaObject") is not None:
                    out.append(rec)
            if out:
                break
    if not out:
        raise SystemExit("no real alerts found (looked in src/skysift/data/sample_alerts)")
    return out


def history_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """0..300 previous detections, log-normal with median 30."""
    lengths = np.round(rng.lognormal(mean=np.log(30), sigma=0.9, size=n)).astype(int)
    return np.clip(lengths, 0, 300)


def make_night(n: int, seed: int = 1, first: int = 0) -> Iterator[tuple[dict, int]]:
    """``n`` synthetic alert records (dict, diaSourceId), each a modified copy of a real one.

    Object ``i`` gets diaObjectId ``base + (first + i) * 1000``; its sources use the ids after it.
    """
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    reals = real_records()
    sources = [r["diaSource"] for r in reals]
    lengths = history_lengths(n, rng)
    base_id = 9_100_000_000_000_000_000 // 1000  # well inside int64, clear of real ids
    for i in range(n):
        rec = copy.copy(pyrng.choice(reals))
        oid = base_id + (first + i) * 1000
        ra = float(rng.uniform(0, 360))
        dec = float(np.degrees(np.arcsin(rng.uniform(-1, 0.5))))
        t_now = 61000.0 + i * 1e-5
        src = dict(
            rec["diaSource"],
            diaSourceId=oid,
            diaObjectId=oid,
            ra=ra,
            dec=dec,
            midpointMjdTai=t_now,
            band=BANDS[int(rng.integers(6))],
            psfFlux=float(rng.lognormal(np.log(3000), 1.0)) * (1 if rng.random() > 0.1 else -1),
            reliability=float(rng.random()),
        )
        prv = []
        for k in range(int(lengths[i])):
            tmpl = pyrng.choice(sources)
            prv.append(dict(tmpl, diaSourceId=oid + 1 + k,
                            diaObjectId=oid, ra=ra, dec=dec,
                            midpointMjdTai=t_now - 1.0 - k * 2.5,
                            band=BANDS[int(rng.integers(6))],
                            psfFlux=float(rng.lognormal(np.log(3000), 1.0)),
                            reliability=float(rng.random())))
        forced = []
        if "prvDiaForcedSources" in rec:
            for k in range(int(lengths[i])):
                forced.append({
                    "diaForcedSourceId": oid + 500 + k, "diaObjectId": oid, "ra": ra, "dec": dec,
                    "visit": 2025090500000 + k, "detector": 1,
                    "psfFlux": float(rng.normal(500, 300)),
                    "psfFluxErr": 200.0, "midpointMjdTai": t_now - 1.5 - k * 2.5,
                    "scienceFlux": None, "scienceFluxErr": None,
                    "band": BANDS[int(rng.integers(6))], "timeProcessedMjdTai": t_now,
                    "timeWithdrawnMjdTai": None})
        obj = dict(rec["diaObject"], diaObjectId=oid, ra=ra, dec=dec,
                   nDiaSources=len(prv) + 1, lastDiaSourceMjdTai=t_now,
                   firstDiaSourceMjdTai=t_now - (len(prv) and 1.0 + (len(prv) - 1) * 2.5))
        rec.update(diaSourceId=oid, diaSource=src, prvDiaSources=prv,
                   prvDiaForcedSources=forced, diaObject=obj)
        yield rec, oid


def previous_alert(rec: dict) -> dict | None:
    """The alert the object sent before this one: its newest previous detection as the trigger."""
    prv = rec["prvDiaSources"]
    if not prv:
        return None
    first, rest = prv[0], prv[1:]  # make_night orders the history newest first
    return dict(rec, diaSourceId=first["diaSourceId"], diaSource=first, prvDiaSources=rest,
                prvDiaForcedSources=rec["prvDiaForcedSources"][1:])


def filter_mix(n: int = 1000, seed: int = 2) -> list[dict]:
    """``n`` filters, each matching of order 0.01-0.3% of alerts (about 1-2 records per alert in
    all, as selective user filters do); 70% plain, 22% lite, 8% full."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.random()
        output = "plain" if kind < 0.70 else ("lite" if kind < 0.92 else "full")
        band = rng.choice(BANDS)
        choice = rng.randrange(6)
        if choice == 0:  # bright
            cond = f"objects.latest_psfFlux > {rng.uniform(40000, 200000):.0f}"
        elif choice == 1:  # long history in a band, in a sky stripe
            ra0 = rng.uniform(0, 340)
            cond = (f"objects.n{band}Sources >= {rng.randint(10, 40)} "
                    f"AND objects.ra BETWEEN {ra0:.2f} AND {ra0 + rng.uniform(5, 20):.2f}")
        elif choice == 2:  # a small sky box
            ra0, dec0 = rng.uniform(0, 355), rng.uniform(-85, 25)
            cond = (f"objects.ra BETWEEN {ra0:.2f} AND {ra0 + rng.uniform(0.5, 4):.2f} "
                    f"AND objects.decl BETWEEN {dec0:.1f} AND {dec0 + rng.uniform(2, 10):.1f}")
        elif choice == 3:  # reliable and brightening fast
            cond = (f"objects.latestR > {rng.uniform(0.99, 0.999):.4f} "
                    f"AND objects.latest_psfFlux > {rng.uniform(2, 4):.1f} * "
                    f"objects.{band}_psfFluxMean")
        elif choice == 4:  # magnitude cut with the Lasair function
            cond = f"flux2mag(objects.latest_psfFlux) < {rng.uniform(18.0, 19.5):.2f}"
        else:  # new objects at high galactic latitude
            cond = (f"objects.nDiaSources <= {rng.randint(1, 3)} "
                    f"AND abs(objects.glat) > {rng.uniform(40, 80):.0f}")
        out.append(
            {
                "name": f"bench{i:04d}",
                "output": output,
                "sql": "SELECT objects.diaObjectId, objects.ra, objects.decl, "
                "objects.latest_psfFlux, objects.nDiaSources FROM objects WHERE " + cond,
            }
        )
    return out
