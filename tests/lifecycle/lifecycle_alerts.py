"""New alerts made from the real ones in tests/data/rubin (new objects, new ids)."""

from __future__ import annotations

from pathlib import Path

from skysift.alerts.encode import encode_wire, load_wire_record

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"


def real_alerts() -> list[Path]:
    """The real alert files that have a diaObject (solar-system-only alerts have none)."""
    return [p for p in sorted(RUBIN.glob("*.avro")) if load_wire_record(p)[0].get("diaObject")]


def new_alert_bytes(n: int, first_id: int) -> list[tuple[int, bytes]]:
    """``n`` alerts in Rubin's wire format: copies of the real ones, each a new object whose
    diaObjectId and diaSourceId are ``first_id + k``."""
    files = real_alerts()
    out = []
    for k in range(n):
        rec, sid = load_wire_record(files[k % len(files)])
        new = first_id + k
        src = dict(rec["diaSource"], diaSourceId=new, diaObjectId=new)
        obj = dict(rec["diaObject"], diaObjectId=new)
        rec = dict(rec, diaSourceId=new, diaSource=src, diaObject=obj)
        out.append((new, encode_wire(rec, sid // 100, sid % 100)))
    return out


def write_new_alerts(folder: Path, n: int, first_id: int) -> list[int]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for new, data in new_alert_bytes(n, first_id):
        (folder / f"{new}.avro").write_bytes(data)
        ids.append(new)
    return ids
