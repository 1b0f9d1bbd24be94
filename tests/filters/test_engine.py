"""Running filters: the store (SQLite file, PostgreSQL) and the batch engine give the same rows.

Engine mechanics: the tables are those of the made-up ``mechanics_catalogue``
(tests/filters/mechanics_catalogue.py), not the product's allow-list. Each test gets a fresh
store (``store_url``: SQLite and PostgreSQL) with the same objects and
sherlock_classifications rows, created with SQLAlchemy Core (quoted camelCase columns), and a
BatchEngine loaded with the same rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sleepers import PG_SLEEP_FUNCTION, sqlite_sleep

from skysift.errors import (
    BatchSchemaError,
    FilterError,
    FilterRejected,
    FilterTimeout,
)
from skysift.filters import engine as engine_module
from skysift.filters.batch import BatchEngine
from skysift.filters.compile import compile_filter
from skysift.filters.engine import QueryResult, run_query
from skysift.store.functions import install, install_postgres_functions, mjdnow
from skysift.filters.validate import validate_filter

BASE_ID = 170587115523932323  # > 2**53: must come back exact
N = 30
G_FLUX = [None, 0.0, -120.5, 1000.0, 25000.0]


def object_rows() -> list[dict]:
    rows = []
    for i in range(N):
        rows.append({
            "diaObjectId": BASE_ID + i, "ra": 10.0 * i + 0.5, "decl": -30.0 + 2 * i,
            "g_psfFlux": G_FLUX[i % 5] if i % 5 != 4 else 25000.0 * (i + 1),
            "r_psfFlux": 500.0 * (i + 1), "nDiaSources": i % 7 + 1, "nPosDiaSources": i % 4,
            "tns_name": ["SN 2026a", "AT 2026b", None][i % 3],
            "lastDiaSourceMjdTai": 61000 + i / 10,
            "latestR": i / 30.0,
        })
    return rows


def sherlock_rows() -> list[dict]:
    return [{"diaObjectId": BASE_ID + i, "classification": ["SN", "NT", "VS"][i % 3], "z": i / 100}
            for i in range(0, N, 2)]


SA_TYPES = {"int": sa.BigInteger, "float": sa.Float(53), "text": sa.Text, "bool": sa.Boolean,
            "json": sa.Text}


@dataclass
class Store:
    engine: sa.Engine
    dialect: str

    def run(self, vf, *, row_cap=1000, timeout_s=5.0, restrict_ids=None, limit=None, conn=None):
        text = compile_filter(vf, self.dialect, restrict_ids=restrict_ids, limit=limit)
        if conn is not None:
            return run_query(conn, text, dialect=self.dialect, timeout_s=timeout_s, row_cap=row_cap,
                             filter_name=vf.name)
        with self.engine.connect() as c:
            return run_query(c, text, dialect=self.dialect, timeout_s=timeout_s, row_cap=row_cap,
                             filter_name=vf.name)


@pytest.fixture
def store(store_url, mechanics_catalogue):
    engine = sa.create_engine(store_url)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        install(engine)
        sa.event.listen(engine, "connect",
                        lambda c, _r: c.create_function("sleep", 1, sqlite_sleep))
    meta = sa.MetaData()
    tables = {}
    for name in ("objects", "sherlock_classifications"):
        cols = [sa.Column(c, SA_TYPES[t], primary_key=(c == "diaObjectId"))
                for c, t in mechanics_catalogue.tables[name].items()]
        tables[name] = sa.Table(name, meta, *cols)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(tables["objects"].insert(), object_rows())
        conn.execute(tables["sherlock_classifications"].insert(), sherlock_rows())
        if dialect == "postgresql":
            conn.exec_driver_sql(PG_SLEEP_FUNCTION)
            install_postgres_functions(conn)  # a schema made without the migrations
    yield Store(engine, dialect)
    engine.dispose()


@pytest.fixture
def batch(mechanics_catalogue):
    # a check every 10 steps (2 rows), so that sleep(0.05) per row is stopped close to the deadline
    engine = BatchEngine(mechanics_catalogue, progress_steps=10)
    engine.load("objects", object_rows())
    engine.load("sherlock_classifications", sherlock_rows())
    engine.register_function("sleep", 1, sqlite_sleep)
    yield engine
    engine.close()


def norm(rows: list[dict]) -> list[dict]:
    """Floats to 12 significant digits (PostgreSQL's log and Python's may differ in the last
    bit)."""
    return [
        {k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in row.items()}
        for row in rows
    ]


SAME_RESULTS = {
    "flux2mag": "SELECT diaObjectId, g_psfFlux, flux2mag(g_psfFlux) AS gmag FROM objects",
    "division": ("SELECT diaObjectId, nPosDiaSources / nDiaSources AS frac, "
                 "nPosDiaSources DIV 2 AS half, "
                 "7 / 2 AS lit, -7 DIV 2 AS neg, ra / 0 AS byzero, nDiaSources DIV 0 AS divzero "
                 "FROM objects WHERE nPosDiaSources / nDiaSources > 0.3"),
    "order_desc_nulls": "SELECT diaObjectId, g_psfFlux FROM objects ORDER BY g_psfFlux DESC",
    "order_asc_nulls": "SELECT diaObjectId, g_psfFlux AS g FROM objects ORDER BY g, ra DESC",
    "like_ignores_case": "SELECT diaObjectId, tns_name FROM objects WHERE tns_name LIKE 'sn%'",
    "maths": ("SELECT diaObjectId, SQRT(decl) AS s, LOG10(r_psfFlux) AS l, LN(decl) AS ln, "
              "LOG(2, r_psfFlux) AS l2, POWER(decl, 0.5) AS p, POW(decl, 2) AS p2, "
              "ROUND(ra / 7, 2) AS r, ROUND(ra) AS r0, FLOOR(decl / 4) AS f, CEIL(ra / 7) AS c, "
              "GREATEST(ra, decl, g_psfFlux) AS g, LEAST(ra, decl) AS le, "
              "COALESCE(g_psfFlux, -1) AS co, IFNULL(tns_name, 'none') AS t, "
              "ABS(decl) AS a, UPPER(tns_name) AS u, LOWER(tns_name) AS lo, EXP(decl) AS e "
              "FROM objects"),
    "conditions": ("SELECT diaObjectId, CASE WHEN ra > 100 THEN 'far' ELSE 'near' END AS side, "
                   "IF(tns_name IS NULL, 0, 1) AS named, ra > 100 AS far FROM objects "
                   "WHERE nDiaSources IN (1, 3, 5) AND decl BETWEEN -25 AND 20 "
                   "AND NOT latestR = 0.5"),
    "implicit_join": ("SELECT objects.diaObjectId, sherlock_classifications.classification, "
                      "sherlock_classifications.z FROM objects, sherlock_classifications "
                      "WHERE sherlock_classifications.classification = 'SN'"),
    "left_join": ("SELECT objects.diaObjectId, s.classification FROM objects LEFT JOIN "
                  "sherlock_classifications AS s ON objects.diaObjectId = s.diaObjectId WHERE "
                  "objects.ra < 100"),
    "hidden_key": "SELECT ra, decl FROM objects WHERE decl > 0",
    "distinct": "SELECT DISTINCT objects.nDiaSources FROM objects, sherlock_classifications",
}


def _sorted(vf, rows):
    if vf.ast.args.get("order"):
        return rows
    return sorted(rows, key=lambda r: (r[vf.result_key], tuple(str(v) for v in r.values())))


def test_store_and_batch_engine_give_identical_rows(store, batch, mechanics_catalogue):
    for name, sql in SAME_RESULTS.items():
        vf = validate_filter(sql, mechanics_catalogue, name=name)
        on_store = store.run(vf)
        on_batch = batch.run(vf, timeout_s=5, row_cap=1000)
        assert isinstance(on_store, QueryResult) and not on_store.truncated
        assert on_store.rows, name
        assert norm(_sorted(vf, on_store.rows)) == norm(_sorted(vf, on_batch.rows)), name
        for row in on_store.rows:
            assert list(row)[: len(vf.columns)] == list(vf.columns), name


def test_values_are_what_lasair_gives(store, batch, mechanics_catalogue):
    vf = validate_filter(SAME_RESULTS["flux2mag"], mechanics_catalogue)
    for result in (store.run(vf), batch.run(vf, timeout_s=5, row_cap=100)):
        by_id = {r["diaObjectId"]: r for r in result.rows}
        assert set(by_id) == {BASE_ID + i for i in range(N)}  # 64-bit ids exact
        assert by_id[BASE_ID + 0]["gmag"] is None  # NULL flux
        assert by_id[BASE_ID + 1]["gmag"] is None  # 0
        assert by_id[BASE_ID + 2]["gmag"] is None  # negative
        assert by_id[BASE_ID + 3]["gmag"] == pytest.approx(-2.5 * math.log10(1000.0) + 31.4)
    division = validate_filter(SAME_RESULTS["division"], mechanics_catalogue)
    rows = store.run(division).rows
    assert all(r["lit"] == 3.5 and r["neg"] == -3 and r["byzero"] is None and r["divzero"] is None
               for r in rows)
    assert {(r["frac"], r["half"]) for r in rows} >= {(0.5, 1)}
    ordered = validate_filter(SAME_RESULTS["order_desc_nulls"], mechanics_catalogue)
    fluxes = [r["g_psfFlux"] for r in store.run(ordered).rows]
    # MySQL order: NULLs last in DESC
    assert fluxes[-6:] == [None] * 6 and fluxes[0] == 25000.0 * 30


def test_hidden_key_and_boolean_outputs(store, mechanics_catalogue):
    rows = store.run(validate_filter(SAME_RESULTS["hidden_key"], mechanics_catalogue)).rows
    assert all(list(r) == ["ra", "decl", "__diaObjectId"] for r in rows)
    conditions = store.run(validate_filter(SAME_RESULTS["conditions"], mechanics_catalogue)).rows
    assert {type(r["far"]) for r in conditions} == {int}


def test_mjdnow_is_now_on_every_engine(store, batch, mechanics_catalogue):
    vf = validate_filter(f"SELECT mjdnow() AS now FROM objects WHERE diaObjectId = {BASE_ID}",
                         mechanics_catalogue)
    for result in (store.run(vf), batch.run(vf, timeout_s=5, row_cap=10)):
        assert abs(result.rows[0]["now"] - mjdnow()) < 1e-4


def test_row_cap_truncation_restrict_ids_and_limit(store, batch, mechanics_catalogue):
    vf = validate_filter("SELECT diaObjectId FROM objects ORDER BY latestR DESC",
                         mechanics_catalogue, name="cap")
    capped = store.run(vf, row_cap=5)
    assert capped.truncated and [r["diaObjectId"] for r in capped.rows] == [
        BASE_ID + i for i in range(29, 24, -1)
    ]
    assert batch.run(vf, timeout_s=5, row_cap=5).rows == capped.rows
    assert not store.run(vf, row_cap=N).truncated
    assert store.run(vf, row_cap=0).rows == [] and store.run(vf, row_cap=0).truncated
    wanted = [BASE_ID + 3, BASE_ID + 7, BASE_ID + 20, 42]
    restricted = store.run(vf, restrict_ids=wanted)
    assert [r["diaObjectId"] for r in restricted.rows] == [BASE_ID + 20, BASE_ID + 7, BASE_ID + 3]
    assert batch.run(vf, timeout_s=5, row_cap=100, restrict_ids=wanted).rows == restricted.rows
    assert store.run(vf, restrict_ids=[]).rows == []
    limited = store.run(vf, limit=2)
    assert len(limited.rows) == 2 and not limited.truncated


def test_timeout_is_reported_and_cuts_the_query_short(store, batch, mechanics_catalogue,
                                                       monkeypatch):
    monkeypatch.setattr(engine_module, "PROGRESS_STEPS", 10)
    vf = validate_filter("SELECT diaObjectId FROM objects WHERE sleep(0.05) = 0",
                         mechanics_catalogue, name="slow")
    for run in (lambda: store.run(vf, timeout_s=0.2),
                lambda: batch.run(vf, timeout_s=0.2, row_cap=100)):
        started = time.monotonic()
        with pytest.raises(FilterTimeout) as info:
            run()
        assert time.monotonic() - started < 0.8  # all 30 rows would take 1.5 s
        assert info.value.filter == "slow"
    quick = validate_filter("SELECT diaObjectId FROM objects", mechanics_catalogue)
    assert len(batch.run(quick, timeout_s=5, row_cap=100).rows) == N


def test_cpu_bound_filter_is_stopped_at_the_deadline_with_default_checks(mechanics_catalogue):
    engine = BatchEngine(mechanics_catalogue)
    engine.load("objects", [{"diaObjectId": i, "ra": i / 7} for i in range(3000)])
    engine.load("crossmatch_tns", [{"tns_name": str(i), "ra": i / 3} for i in range(3000)])
    vf = validate_filter("SELECT objects.diaObjectId FROM objects, crossmatch_tns "
                         "WHERE SQRT(ABS(objects.ra - crossmatch_tns.ra)) < -1",
                         mechanics_catalogue, name="cross")
    started = time.monotonic()
    with pytest.raises(FilterTimeout, match=r"^the filter ran past its deadline") as info:
        engine.run(vf, timeout_s=0.1, row_cap=10)
    assert info.value.filter == "cross"
    assert time.monotonic() - started < 0.5  # the 9-million-pair join takes many seconds
    engine.close()


def test_runtime_error_names_the_filter_and_leaves_the_connection_usable(store, batch,
                                                                          mechanics_catalogue):
    bad = validate_filter("SELECT diaObjectId, flux2mag(tns_name) AS m FROM objects",
                          mechanics_catalogue, name="typo")
    good = validate_filter("SELECT diaObjectId FROM objects", mechanics_catalogue, name="good")
    with store.engine.connect() as conn:
        with pytest.raises(FilterError) as info:
            store.run(bad, conn=conn)
        assert not isinstance(info.value, FilterTimeout) and info.value.filter == "typo"
        assert "failed" in str(info.value)
        assert len(store.run(good, conn=conn).rows) == N
        # inside the caller's own transaction: the error does not abort it
        with conn.begin():
            conn.exec_driver_sql("DELETE FROM sherlock_classifications")
            with pytest.raises(FilterError, match=r"^the filter failed: ") as info:
                store.run(bad, conn=conn)
            assert type(info.value) is FilterError
            assert len(store.run(good, conn=conn).rows) == N
            conn.exec_driver_sql(
                'INSERT INTO sherlock_classifications ("diaObjectId", classification) VALUES '
                f'({BASE_ID}, \'X\')')
        assert conn.exec_driver_sql("SELECT count(*) FROM sherlock_classifications").scalar() == 1
    with pytest.raises(FilterError, match=r"^the filter failed: ") as info:
        batch.run(bad, timeout_s=5, row_cap=10)
    assert type(info.value) is FilterError and info.value.filter == "typo"
    assert len(batch.run(good, timeout_s=5, row_cap=100).rows) == N


def test_connection_state_is_restored(store, mechanics_catalogue):
    slow = validate_filter("SELECT diaObjectId FROM objects WHERE sleep(0.05) = 0",
                           mechanics_catalogue, name="slow")
    with store.engine.connect() as conn:
        with pytest.raises(FilterTimeout):
            store.run(slow, conn=conn, timeout_s=0.1)
        store.run(validate_filter("SELECT ra AS x FROM objects", mechanics_catalogue), conn=conn)
        if store.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
        else:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "off"
        # no deadline left behind: a slow statement run directly completes
        assert len(conn.execute(sa.text("SELECT sleep(0.02) FROM objects LIMIT 15")).all()) == 15
        conn.exec_driver_sql("UPDATE objects SET ra = 1 WHERE ra < 0")  # writes allowed again
        conn.rollback()


def test_the_sandbox_refuses_writes_even_without_validation(store):
    with store.engine.connect() as conn:
        for statement in ("DELETE FROM objects", "DROP TABLE objects"):
            with pytest.raises(FilterError, match=r"^the filter failed: ") as info:
                run_query(conn, statement, dialect=store.dialect, timeout_s=2, row_cap=10,
                          filter_name="raw")
            assert type(info.value) is FilterError and info.value.filter == "raw"
        assert conn.exec_driver_sql("SELECT count(*) FROM objects").scalar() == N


def test_batch_engine_load_clear_and_text_filters(batch, mechanics_catalogue):
    result = batch.run("SELECT diaObjectId FROM objects WHERE ra < 30", timeout_s=5, row_cap=10,
                       filter_name="t")
    assert sorted(r["diaObjectId"] for r in result.rows) == [BASE_ID, BASE_ID + 1, BASE_ID + 2]
    with pytest.raises(FilterRejected, match=r"^only SELECT statements are allowed, not 'DELETE'"):
        batch.run("DELETE FROM objects", timeout_s=5, row_cap=10)
    batch.load("objects", [{"diaObjectId": 1, "ra": 1.0}, {"diaObjectId": 1, "ra": 2.0}])
    assert batch.run("SELECT ra FROM objects", timeout_s=5, row_cap=10).rows == [
        {"ra": 2.0, "__diaObjectId": 1}
    ]
    batch.clear()
    assert batch.run("SELECT ra FROM objects", timeout_s=5, row_cap=10).rows == []
    with pytest.raises(BatchSchemaError, match=r"^unknown column\(s\) \['password'\] for batch "
                       r"table 'objects'") as info:
        batch.load("objects", [{"diaObjectId": 2, "password": "x"}])
    assert type(info.value) is BatchSchemaError and info.value.table == "objects"
    batch.load("annotations", [{"diaObjectId": 2, "topic": "t", "classdict": {"a": 1}}])
    vf = validate_filter("SELECT annotations.classdict AS d FROM objects, annotations",
                         mechanics_catalogue)
    batch.load("objects", [{"diaObjectId": 2}])
    assert batch.run(vf, timeout_s=5, row_cap=10).rows == [{"d": '{"a": 1}', "__diaObjectId": 2}]


def test_narrow_batch_table_gives_the_same_rows(batch, mechanics_catalogue):
    """keep_columns holds only the objects columns the filters read: every SAME_RESULTS filter
    gives exactly the rows of the full-width table, the filter's objects_columns are what it
    reads, and a filter reading a column left out is refused naming the filter and the column."""
    vfs = {name: validate_filter(sql, mechanics_catalogue, name=name)
           for name, sql in SAME_RESULTS.items()}
    wide = {name: batch.run(vf, timeout_s=5, row_cap=1000).rows for name, vf in vfs.items()}
    assert vfs["hidden_key"].objects_columns == {"diaObjectId", "ra", "decl"}
    assert vfs["order_asc_nulls"].objects_columns == {"diaObjectId", "g_psfFlux", "ra"}
    needed = frozenset().union(*(vf.objects_columns for vf in vfs.values()))
    batch.keep_columns("objects", needed)
    held = batch.held_columns("objects")
    assert set(held) == needed and len(held) < len(mechanics_catalogue.columns("objects"))
    batch.load("objects", object_rows())  # full rows: columns not held are ignored
    for name, vf in vfs.items():
        assert batch.run(vf, timeout_s=5, row_cap=1000).rows == wide[name], name
    other = validate_filter("SELECT diaObjectId FROM objects WHERE nPosDiaSources > 1",
                            mechanics_catalogue, name="needs_more")
    batch.keep_columns("objects", vfs["hidden_key"].objects_columns)
    missing = r"^the batch holds no column\(s\) \['nPosDiaSources'\]"
    with pytest.raises(FilterError, match=missing) as info:
        batch.run(other, timeout_s=5, row_cap=1000)
    assert type(info.value) is FilterError and info.value.where.get("filter") == "needs_more"
    with pytest.raises(BatchSchemaError, match=r"^unknown column\(s\) \['password'\] for batch "
                       r"table 'objects'") as info:
        batch.keep_columns("objects", {"password"})
    assert type(info.value) is BatchSchemaError and info.value.table == "objects"
    batch.keep_columns("objects", None)  # every column again (emptied: load again)
    batch.load("objects", object_rows())
    assert batch.run(other, timeout_s=5, row_cap=1000).rows
