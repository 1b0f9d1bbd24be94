"""The driver's bulk path (sqlite3 executemany, PostgreSQL COPY) stores exactly what SQLAlchemy's
executemany stores: every column of every row of sources, forced sources and objects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from rubin_alerts import grown_light_curves

from skysift.features import update as ingest
from skysift.store import statements
from skysift.store.database import open_store
from skysift.store.schema import forced_sources, objects, sources

FIXED = datetime(2026, 12, 2, 4, 30, 15, 123456, tzinfo=UTC)


class _FixedClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED


def _table(engine, table) -> list[dict]:
    key = next(iter(table.primary_key.columns))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(key)).mappings()]


def _raw(engine, table) -> list[tuple]:
    """The rows as the database holds them (the driver's values, no SQLAlchemy processing)."""
    key = next(iter(table.primary_key.columns)).name
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            f'SELECT * FROM "{table.name}" ORDER BY "{key}"').fetchall()]


TABLES = (sources, forced_sources, objects)


def test_bulk_path_stores_what_sqlalchemy_stores(store_url, monkeypatch):
    monkeypatch.setattr(ingest, "datetime", _FixedClock)
    alerts = grown_light_curves(6, 6, seed=11, history=20)
    # two batches: the second inserts new sources, ignores stored ones and updates objects rows
    batches = [alerts[: len(alerts) // 2], alerts[len(alerts) // 2:]]
    engine = open_store(store_url)
    try:
        seen = {}
        for bulk in (True, False):  # the same database, emptied between the two loads
            monkeypatch.setattr(statements, "BULK_DRIVER", bulk)
            with engine.begin() as conn:
                for table in TABLES:
                    conn.execute(sa.delete(table))
            for batch in batches:
                with engine.begin() as conn:
                    ingest.store_alerts(conn, batch)
            seen[bulk] = {t.name: (_raw(engine, t), _table(engine, t)) for t in TABLES}
        for table in TABLES:
            (raw_bulk, rows_bulk), (raw_plain, rows_plain) = (seen[True][table.name],
                                                              seen[False][table.name])
            assert len(raw_bulk) == len(raw_plain) > 0, table.name
            assert raw_bulk == raw_plain, table.name
            assert rows_bulk == rows_plain, table.name
        assert {r["ingested"] for r in seen[True]["sources"][1]} == {FIXED}
    finally:
        engine.dispose()


def test_bulk_upsert_replaces_missing_columns_with_null_as_sqlalchemy_does(store_url,
                                                                           monkeypatch):
    table = objects
    engine = open_store(store_url)
    base = {c.name: None for c in table.columns}
    base.update(diaObjectId=7, nDiaSources=3, latest_psfFlux=12.5, updated=FIXED)
    try:
        for bulk in (True, False):
            monkeypatch.setattr(statements, "BULK_DRIVER", bulk)
            with engine.begin() as conn:
                conn.execute(sa.delete(table))
                statements.upsert(conn, table, [base], "diaObjectId")
                partial = {"diaObjectId": 7, "nDiaSources": 4, "updated": FIXED}
                statements.upsert(conn, table, [partial], "diaObjectId")
            (row,) = _table(engine, table)
            assert (row["nDiaSources"], row["latest_psfFlux"]) == (4, None), bulk
    finally:
        engine.dispose()


@pytest.mark.parametrize("bulk", [True, False])
def test_insert_ignore_keeps_the_stored_row(store_url, monkeypatch, bulk):
    monkeypatch.setattr(statements, "BULK_DRIVER", bulk)
    engine = open_store(store_url)
    row = {"diaForcedSourceId": 5, "diaObjectId": 1, "midpointMjdTai": 60000.5, "band": "g",
           "psfFlux": 1.0, "psfFluxErr": 0.1, "payload": "{}"}
    try:
        with engine.begin() as conn:
            statements.insert_ignore(conn, forced_sources, [row], "diaForcedSourceId")
            statements.insert_ignore(conn, forced_sources, [dict(row, psfFlux=2.0),
                                                            dict(row, diaForcedSourceId=6)],
                                     "diaForcedSourceId")
        got = [(r["diaForcedSourceId"], r["psfFlux"]) for r in _table(engine, forced_sources)]
        assert got == [(5, 1.0), (6, 1.0)]
    finally:
        engine.dispose()


def test_missing_ids_are_the_ids_no_row_holds(store_url):
    engine = open_store(store_url)
    big = 2**62 + 1  # beyond a double's exact integers: must stay exact through JSON / arrays
    row = {"diaObjectId": 1, "midpointMjdTai": 60000.5, "band": "g", "psfFlux": 1.0,
           "psfFluxErr": 0.1, "payload": "{}"}
    try:
        with engine.begin() as conn:
            statements.insert_ignore(conn, forced_sources, [
                dict(row, diaForcedSourceId=i) for i in (5, 6, big)], "diaForcedSourceId")
            key = forced_sources.c.diaForcedSourceId
            asked = [7, big, 5, big + 1, 6, 1, 2**63 - 1]
            assert statements.missing_ids(conn, key, asked) == [1, 7, big + 1, 2**63 - 1]
            assert statements.missing_ids(conn, key, []) == []
            monkeypatch = pytest.MonkeyPatch()
            with monkeypatch.context() as m:  # split into statements of IN_CHUNK ids
                m.setattr(statements, "IN_CHUNK", 2)
                got = statements.missing_ids(conn, key, asked)
            assert got == [1, 7, big + 1, 2**63 - 1]
    finally:
        engine.dispose()
