"""Source payloads hold what the columns do not: the record read back is the record sent.

Each test stores on SQLite and on PostgreSQL (the ``engine`` fixture) and reads back through
``fetch_lightcurves``, against an independent decode (fastavro's) of the same real alerts.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import sqlalchemy as sa
from alembic import command
from rubin_alerts import decode, grown_light_curves, rubin_files

from skysift.alerts.decode import decode_message, decode_with_fastavro
from skysift.alerts.encode import encode_wire
from skysift.alerts.model import AlertOrigin
from skysift.alerts.project import HISTORY_FIELDS
from skysift.features.update import _forced_row, _Soft, _source_row, store_alerts
from skysift.store.database import alembic_config
from skysift.store.lightcurve import fetch_lightcurves
from skysift.store.payloads import payload_beside
from skysift.store.schema import FORCED_COLUMNS, SOURCE_COLUMNS, forced_sources, sources


def _as_stored(record: dict) -> dict:
    """A record as JSON gives it back: NaN as null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}


def _same(a: dict, b: dict) -> bool:
    """Equal, value types and float signs included (``1200 == 1200.0``, ``-0.0 == 0.0`` and
    ``True == 1`` in Python)."""
    return (a == b and all(type(a[k]) is type(b[k]) for k in a)
            and all(math.copysign(1, a[k]) == math.copysign(1, b[k]) for k in a
                    if isinstance(a[k], float) and a[k] == 0.0))


def _wire_with_history(n_objects: int = 3) -> list[tuple[bytes, AlertOrigin]]:
    """Real LSSTCam alerts in Kafka framing whose history (empty in the first nights' alerts)
    is filled with grown light curves made of real records: 12 previous diaSources and 3
    forced sources each."""
    records = [r for r in map(decode, rubin_files()) if r.get("diaObject")]
    if not records:
        pytest.skip("no real Rubin alert files")
    out = []
    alerts = grown_light_curves(n_objects, 13, seed=23, history=12)
    for k, grown in enumerate(alerts[12::13]):  # each object's last alert: 12 previous sources
        assert len(grown.prvDiaSources) == 12
        rec = dict(records[k % len(records)])
        rec.update(diaSourceId=grown.diaSourceId, diaSource=grown.diaSource,
                   diaObject=grown.diaObject, prvDiaSources=grown.prvDiaSources,
                   prvDiaForcedSources=grown.prvDiaForcedSources)
        out.append((encode_wire(rec, 9, 0), AlertOrigin(topic="t", partition=0, offset=k)))
    return out


def test_projected_history_reads_back_as_fastavro_decodes_it(engine):
    """Real alerts with a history, decoded the worker's way (history projected), stored; each
    history item read back equals fastavro's decode of it cut to the kept fields, and its stored
    payload holds only what no column holds (ssObjectId for a diaSource, nothing for a forced
    source)."""
    wire = _wire_with_history()
    alerts = [decode_message(v, o) for v, o in wire]
    assert any(not a.history_complete for a in alerts)
    with engine.begin() as conn:
        store_alerts(conn, alerts, bbb=False)
    kept_src = HISTORY_FIELDS["prvDiaSources"][1]
    kept_forced = HISTORY_FIELDS["prvDiaForcedSources"][1]
    sent_src: dict[int, dict] = {}
    sent_forced: dict[int, dict] = {}
    triggers: set[int] = set()
    for v, o in wire:
        ref = decode_with_fastavro(v, o)
        triggers.add(ref.diaSourceId)
        sent_src[ref.diaSourceId] = ref.diaSource
        for s in ref.prvDiaSources:
            sent_src.setdefault(s["diaSourceId"], {k: s[k] for k in s if k in kept_src})
        for f in ref.prvDiaForcedSources:
            sent_forced[f["diaForcedSourceId"]] = {k: f[k] for k in f if k in kept_forced}
    oids = {a.diaObjectId for a in alerts if a.diaObjectId}
    with engine.connect() as conn:
        curves = fetch_lightcurves(conn, oids)
        payloads = dict(conn.execute(sa.select(sources.c.diaSourceId, sources.c.payload)).all())
        forced_payloads = dict(conn.execute(sa.select(forced_sources.c.diaForcedSourceId,
                                                      forced_sources.c.payload)).all())
    got_src = {s["diaSourceId"]: s for lc in curves.values() for s in lc.diaSources}
    got_forced = {f["diaForcedSourceId"]: f for lc in curves.values() for f in lc.diaForcedSources}
    assert got_forced and len(got_src) > len(triggers)
    for sid, record in got_src.items():
        assert _same(record, _as_stored(sent_src[sid])), sid
    for fid, record in got_forced.items():
        assert _same(record, _as_stored(sent_forced[fid])), fid
    history = [sid for sid in got_src if sid not in triggers]
    assert {json.loads(payloads[sid]).keys() == {"ssObjectId"} for sid in history} == {True}
    assert set(forced_payloads.values()) == {"{}"}
    # the triggering diaSource's payload keeps the ~90 fields no column holds, not its id
    for sid in triggers & set(got_src):
        assert "diaSourceId" not in json.loads(payloads[sid])
        assert len(json.loads(payloads[sid])) == len(sent_src[sid]) - len(SOURCE_COLUMNS)


#: History items whose columns cannot hold every value as sent: each must come back as sent.
_ODD = {
    "negative zero flux": {"psfFlux": -0.0},
    "zero flux": {"psfFlux": 0.0, "snr": 0.0},
    "NaN flux (stored as NULL)": {"psfFlux": math.nan},
    "reliability out of range (NULL, kept in the payload)": {"reliability": 1.5},
    "flux error negative (NULL, kept)": {"psfFluxErr": -3.0},
    "integer flux from JSON": {"psfFlux": 1200},
    "integer ra": {"ra": 10},
    "no snr field": {"snr": None, "-": "snr"},
    "an extra field": {"xFlag": True},
    "a boolean flux": {"psfFlux": True},
}


def _odd_alert():
    alert = grown_light_curves(1, len(_ODD) + 1, seed=21, history=len(_ODD), n_forced=3)[-1]
    alert = copy.deepcopy(alert)
    for item, change in zip(alert.prvDiaSources, _ODD.values(), strict=True):
        item.update({k: v for k, v in change.items() if k != "-"})
        if "-" in change:
            del item[change["-"]]
    alert.prvDiaForcedSources[0]["psfFlux"] = -0.0
    alert.prvDiaForcedSources[1]["psfFlux"] = 7  # an int: the column holds 7.0
    return alert


def test_items_the_columns_cannot_hold_come_back_as_sent(engine):
    alert = _odd_alert()
    with engine.begin() as conn:
        result = store_alerts(conn, [alert], bbb=False)
    assert not result.refused
    with engine.connect() as conn:
        lc = fetch_lightcurves(conn, [alert.diaObjectId])[alert.diaObjectId]
        src_cols = dict(conn.execute(sa.select(sources.c.diaSourceId, sources.c.psfFlux)).all())
    got = {s["diaSourceId"]: s for s in lc.diaSources}
    for (name, _change), item in zip(_ODD.items(), alert.prvDiaSources, strict=True):
        assert _same(got[item["diaSourceId"]], _as_stored(item)), name
    got_forced = {f["diaForcedSourceId"]: f for f in lc.diaForcedSources}
    for item in alert.prvDiaForcedSources:
        assert _same(got_forced[item["diaForcedSourceId"]], _as_stored(item))
    # the columns hold the cleaned values all the same
    assert src_cols[alert.prvDiaSources[2]["diaSourceId"]] is None
    assert src_cols[alert.prvDiaSources[5]["diaSourceId"]] == 1200.0
    assert type(got[alert.prvDiaSources[5]["diaSourceId"]]["psfFlux"]) is int


def test_row_builders_write_what_payload_beside_defines():
    """_source_row and _forced_row take a short cut for the common case; on every kind of item
    their payload is payload_beside's for the row they build."""
    alert = _odd_alert()
    plain = grown_light_curves(1, 4, seed=22, history=3, n_forced=3)[-1]
    soft = _Soft([])
    projected = [{k: v for k, v in s.items() if k in HISTORY_FIELDS["prvDiaSources"][1]}
                 for s in plain.prvDiaSources]
    odd_ids = [{**projected[0], "diaObjectId": 0}, {**projected[1], "diaSourceId": "123"},
               {**projected[2], "midpointMjdTai": 60900}]
    for s in [*alert.prvDiaSources, *plain.prvDiaSources, *projected, *odd_ids,
              alert.diaSource]:
        row = _source_row(s, soft)
        assert row[-1] == payload_beside(s, SOURCE_COLUMNS, row[:-1]), s["diaSourceId"]
    projected_forced = [{k: v for k, v in f.items()
                         if k in HISTORY_FIELDS["prvDiaForcedSources"][1]}
                        for f in plain.prvDiaForcedSources]
    assert {_forced_row(f, soft)[-1] for f in projected_forced} == {"{}"}
    for f in [*alert.prvDiaForcedSources, *plain.prvDiaForcedSources, *projected_forced]:
        row = _forced_row(f, soft)
        assert row[-1] == payload_beside(f, FORCED_COLUMNS, row[:-1]), f["diaForcedSourceId"]


def test_downgrade_to_0009_writes_payloads_whole_again(store_url):
    """The code of revision 0009 reads a payload as the whole record: a downgrade must leave
    every payload whole, equal to the record as sent."""
    from skysift.store.database import open_store

    engine = open_store(store_url)
    alert = _odd_alert()
    with engine.begin() as conn:
        store_alerts(conn, [alert], bbb=False)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    with engine.connect() as conn:
        whole = {r[0]: json.loads(r[1]) for r in conn.execute(
            sa.select(sources.c.diaSourceId, sources.c.payload))}
        whole_forced = {r[0]: json.loads(r[1]) for r in conn.execute(
            sa.select(forced_sources.c.diaForcedSourceId, forced_sources.c.payload))}
    engine.dispose()
    for item in [alert.diaSource, *alert.prvDiaSources]:
        assert _same(whole[item["diaSourceId"]], _as_stored(item)), item["diaSourceId"]
    for item in alert.prvDiaForcedSources:
        assert _same(whole_forced[item["diaForcedSourceId"]], _as_stored(item))
