"""Two workers storing alerts of the same objects at the same time (PostgreSQL, one consumer
group over several partitions): every object's row equals a serial ingest of the same alerts.

The race this guards against: worker A has stored alert k of an object but not committed; worker
B stores alert k+1 of the same object, whose history does not carry k yet (Rubin's history is
what its database held when the alert was made). Without a lock B computes the features from a
light curve missing A's source and, committing last, overwrites A's row with them.
"""

from __future__ import annotations

import copy
import threading

import sqlalchemy as sa
from rubin_alerts import grown_light_curves

from skysift.store.database import open_store
from skysift.features.update import store_alerts
from skysift.store.schema import objects, sources


def _rows(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(objects)).mappings().all()
    return {r["diaObjectId"]: {k: v for k, v in r.items() if k != "updated"} for r in rows}


def _split(n_objects: int = 5, n_alerts: int = 6):
    """Alerts k (to worker A) and k+1 (to B) of every object, each history without the other."""
    alerts = grown_light_curves(n_objects, n_alerts, seed=21, history=30)
    by_object: dict[int, list] = {}
    for a in alerts:
        by_object.setdefault(a.diaObjectId, []).append(a)
    first, a_batch, b_batch = [], [], []
    for series in by_object.values():
        series.sort(key=lambda a: a.diaSource["midpointMjdTai"])
        first += series[:-2]  # stored before the race
        a_alert, b_alert = series[-2], copy.deepcopy(series[-1])
        a_id = a_alert.diaSource["diaSourceId"]
        b_alert.prvDiaSources = [s for s in b_alert.prvDiaSources if s["diaSourceId"] != a_id]
        a_batch.append(a_alert)
        b_batch.append(b_alert)
    return first, a_batch, b_batch


def test_two_workers_on_one_object_equal_a_serial_ingest(pg_url, tmp_path):
    first, a_batch, b_batch = _split()
    engine = open_store(pg_url)
    serial = open_store(f"sqlite:///{tmp_path / 'serial.db'}")
    try:
        for batch in (first, a_batch, b_batch):
            with serial.begin() as conn:
                store_alerts(conn, batch)
        with engine.begin() as conn:
            store_alerts(conn, first)

        a_stored, a_may_commit = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def worker_a() -> None:
            try:
                with engine.begin() as conn:
                    store_alerts(conn, a_batch)
                    a_stored.set()
                    # hold the transaction open while B stores the same objects
                    assert a_may_commit.wait(30)
            except BaseException as exc:
                errors.append(exc)
                a_stored.set()

        def worker_b() -> None:
            try:
                assert a_stored.wait(30)
                with engine.begin() as conn:
                    store_alerts(conn, b_batch)
            except BaseException as exc:
                errors.append(exc)

        ta, tb = threading.Thread(target=worker_a), threading.Thread(target=worker_b)
        ta.start()
        tb.start()
        assert a_stored.wait(30)
        tb.join(1.0)
        b_waited = tb.is_alive()  # B must wait for A's objects, not compute without them
        a_may_commit.set()
        ta.join(30)
        tb.join(30)
        assert not errors, errors
        assert b_waited
        got, want = _rows(engine), _rows(serial)
        assert got.keys() == want.keys()
        for oid in want:
            assert got[oid]["nDiaSources"] == want[oid]["nDiaSources"], oid
            assert got[oid] == want[oid], oid
        with engine.connect() as conn:
            n_sources = conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar()
        assert n_sources == len({s["diaSourceId"] for a in first + a_batch + b_batch
                                 for s in (a.diaSource, *a.prvDiaSources)})
    finally:
        engine.dispose()
        serial.dispose()


def test_refused_alerts_leave_no_locked_placeholder_row(pg_url):
    alert = grown_light_curves(1, 3, seed=5, history=2)[-1]
    bad = copy.deepcopy(alert)
    # refused once the light curve is read (after the lock): a new history item's band
    bad.prvDiaSources[0]["band"] = "q"
    engine = open_store(pg_url)
    try:
        with engine.begin() as conn:
            result = store_alerts(conn, [bad])
        assert [why for _, why in result.refused] and result.object_ids == []
        assert _rows(engine) == {}
    finally:
        engine.dispose()
