"""One user's filter must never stop ingest for everyone (issue 15, sections 1 and 2).

- A filter that cannot be compiled for every engine is refused when it is saved, whatever its
  output, through the CLI's functions and the REST API, with a message (400, not 500).
- A filter that somehow is in the store anyway (saved by an older version, or edited in the
  database) fails alone: its error of whatever kind (recursion, validation, a runtime error, a
  timeout) is recorded on it, and every other filter produces its records.
- Nested function calls compile to text that grows linearly with depth on PostgreSQL (it grew as
  3^depth), and run with the same answer on both engines.
"""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
import sqlglot

from skysift.accounts import add_user
from skysift.errors import FilterRejected
from skysift.filters.compile import check_compiles, compile_filter
from skysift.filters.manage import add_filter, catalogue, run_filter
from skysift.filters.validate import MAX_DEPTH, nesting_depth, validate_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.store.schema import filters

DEEP_MINUS = "SELECT objects.diaObjectId, " + "- " * 400 + "objects.ra AS x FROM objects"
GOOD = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"


@pytest.fixture
def world(store_url, make_settings, kafka_bootstrap, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url, notify_interval_s=0)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, token = add_user(conn, unique_name("u"))
    yield settings, engine, user, token
    engine.dispose()


@pytest.mark.parametrize("output", ["plain", "lite", "full", "email"])
def test_a_deeply_nested_filter_is_refused_when_saved_whatever_its_output(world, output):
    settings, engine, user, _ = world
    with pytest.raises(FilterRejected, match=r"nests expressions 40\d levels deep; at most 50"):
        add_filter(engine, settings, user, name=f"deep {output}", sql=DEEP_MINUS, output=output,
                   trigger="alert")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(filters)).scalar() == 0


def test_the_api_refuses_it_with_400_and_leaves_no_topic(world, kafka_bootstrap):
    from confluent_kafka.admin import AdminClient
    from fastapi.testclient import TestClient

    from skysift.web.app import create_app

    settings, engine, user, token = world
    with TestClient(create_app(settings, engine)) as client:
        for output in ("email", "plain"):
            r = client.post("/api/filters/", headers={"Authorization": f"Token {token}"},
                            json={"name": f"deep{output}", "sql": DEEP_MINUS, "output": output,
                                  "trigger": "alert"})
            assert r.status_code == 400, r.text
            assert "nests expressions" in r.json()["error"]
        r = client.get("/api/query/", headers={"Authorization": f"Token {token}"},
                       params={"selected": "objects.diaObjectId, " + "- " * 400 + "objects.ra",
                               "tables": "objects"})
        assert r.status_code == 400 and "nests expressions" in r.json()["error"]
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert f"lasair_{user.id}deepplain" not in topics and f"lasair_{user.id}deepemail" not in topics


@pytest.mark.timeout(60)
def test_nested_functions_compile_linearly_and_agree_on_both_engines(world, test_data):
    settings, engine, _user, _ = world
    ingest_files(settings, [test_data / "rubin"], progress=False, engine=engine)
    sizes = {}
    with engine.connect() as conn:
        decl = dict(conn.execute(sa.text('SELECT "diaObjectId", decl FROM objects')).all())
    assert decl, "the real alerts are stored"
    for depth in (1, 6, 12):
        # exp(-exp(-exp(... decl/100))) stays finite at any depth
        sql = ("SELECT objects.diaObjectId, " + "exp(-" * depth + "objects.decl / 100"
               + ")" * depth + " AS x FROM objects")
        vf = validate_filter(sql, catalogue(), name="nested")
        check_compiles(vf)
        sizes[depth] = len(compile_filter(vf, "postgresql"))
        with engine.connect() as conn:
            result = run_filter(conn, settings, sql, name="nested")
        got = {r["diaObjectId"]: r["x"] for r in result.rows}
        assert set(got) == set(decl)
        for oid, value in got.items():  # against the same formula in Python
            want = decl[oid] / 100
            for _ in range(depth):
                want = math.exp(-want)
            assert value == pytest.approx(want, rel=1e-12), (depth, oid)
    per_level = (sizes[12] - sizes[6]) / 6
    assert per_level == (sizes[6] - sizes[1]) / 5, f"linear growth: {sizes}"
    assert per_level < 60
    assert sizes[12] < 1000, sizes


def test_the_depth_limit_is_what_the_compilers_can_take(world):
    """A filter at the limit compiles for both engines; one level more is refused."""
    def minus(n: int) -> str:
        return "SELECT objects.diaObjectId, " + "- " * n + "objects.ra AS x FROM objects"

    n = MAX_DEPTH - 4  # SELECT, AS, the minus signs, the column, its name
    assert nesting_depth(sqlglot.parse_one(minus(n), read="mysql")) == MAX_DEPTH
    check_compiles(validate_filter(minus(n), catalogue(), name="limit"))
    with pytest.raises(FilterRejected, match=f"{MAX_DEPTH + 1} levels deep"):
        validate_filter(minus(n + 1), catalogue(), name="over")
