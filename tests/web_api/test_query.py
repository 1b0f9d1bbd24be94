"""/api/query/: the filter validation, limit/offset, row caps, the deadline, hostile input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _ids_where(engine, cond) -> list[int]:
    from skysift.store.schema import objects

    with engine.connect() as conn:
        return sorted(int(r[0]) for r in conn.execute(
            sa.select(objects.c.diaObjectId).where(cond)))


def test_query_returns_the_rows_the_store_holds(api):
    from skysift.store.schema import objects

    r = api.get("/api/query/", selected="objects.diaObjectId, ra, decl", tables="objects",
                conditions="decl > 80 AND ra < 200", limit=1000)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert isinstance(rows, list) and rows
    assert all(set(row) == {"diaObjectId", "ra", "decl"} for row in rows)
    want = _ids_where(api.engine, sa.and_(objects.c.decl > 80, objects.c.ra < 200))
    assert [row["diaObjectId"] for row in rows] == want  # by diaObjectId when no ORDER BY


def test_limit_and_offset_page_through_the_result(api):
    args = {"selected": "diaObjectId", "tables": "objects", "conditions": "decl < -80"}
    full = [row["diaObjectId"] for row in api.get("/api/query/", limit=1000, **args).json()]
    assert len(full) >= 40
    pages = []
    for offset in range(0, len(full) + 7, 7):
        pages += [row["diaObjectId"] for row in api.post("/api/query/", limit=7, offset=offset,
                                                         **args).json()]
    assert pages == full
    assert api.get("/api/query/", limit=0, **args).json() == []


def test_order_by_in_conditions_and_blank_conditions(api):
    rows = api.get("/api/query/", selected="diaObjectId, ra", tables="objects",
                   conditions="ORDER BY ra DESC", limit=20).json()
    ras = [row["ra"] for row in rows]
    assert len(ras) == 20 and ras == sorted(ras, reverse=True)
    rows = api.get("/api/query/", selected="diaObjectId", tables="objects", conditions="",
                   limit=5).json()
    assert len(rows) == 5
    # a -- comment ends with its field: it cannot swallow the FROM or WHERE that follow
    rows = api.get("/api/query/", selected="diaObjectId -- all", tables="objects -- x",
                   conditions="decl > 80 -- y").json()
    assert rows and len(rows) == len(_ids_where(api.engine, sa.text('decl > 80')))


def test_rows_are_capped_per_user_class(make_world):
    world = make_world(api_query_row_cap=5, api_power_query_row_cap=50)
    args = {"selected": "diaObjectId", "tables": "objects", "conditions": "", "limit": 100}
    assert len(world.get("/api/query/", **args).json()) == 5  # normal user
    assert len(world.get("/api/query/", who="carol", **args).json()) == 50  # power user
    args["limit"] = 3
    assert len(world.get("/api/query/", **args).json()) == 3


def test_a_query_past_its_deadline_answers_400(make_world):
    world = make_world(api_query_timeout_s=0.001)
    heavy = "+".join(["sqrt(ra)"] * 450)
    r = world.get("/api/query/", selected="diaObjectId", tables="objects",
                  conditions=f"{heavy} < 0", limit=10)
    assert r.status_code == 400, r.text
    assert "deadline" in r.json()["error"]


HOSTILE = [
    ({"selected": "diaObjectId; DROP TABLE users", "tables": "objects"}, "may not contain ';'"),
    ({"selected": "*", "tables": "users"}, "users"),
    ({"selected": "name, token_hash", "tables": "objects, users"}, "users"),
    ({"selected": "*", "tables": "sqlite_master"}, "sqlite_master"),
    ({"selected": "*", "tables": "objects", "conditions": "ra > 1 UNION SELECT * FROM users"},
     "UNION"),
    ({"selected": "*", "tables": "objects", "conditions": "ra > 1 LIMIT 5"}, "limit"),
    ({"selected": "diaObjectId /*", "tables": "*/ objects"}, "may not contain '/*'"),
    ({"selected": "(SELECT name FROM users)", "tables": "objects"}, None),
    ({"selected": "load_extension('x')", "tables": "objects"}, "load_extension"),
    ({"selected": "*", "tables": "objects", "conditions": "ra > 'a' || 1"}, "'||'"),
    ({"selected": "x" * 4097, "tables": "objects"}, "selected is longer than 4096 characters"),
    ({"selected": "*", "tables": "o" * 1025}, "tables is longer than 1024 characters"),
    ({"selected": "*", "tables": "objects", "conditions": "1" * 4097},
     "conditions is longer than 4096"),
    ({"selected": "", "tables": "objects"}, "selected may not be blank"),
    ({"tables": "objects"}, "selected is required"),
    ({"selected": "*", "tables": "objects", "limit": "ten"}, "limit must be a whole number"),
    ({"selected": "*", "tables": "objects", "limit": "-1"}, "limit must be at least 0"),
    ({"selected": "*", "tables": "objects", "limit": "1000001"}, "limit must be at most 1000000"),
    ({"selected": "*", "tables": "objects", "limit": "1e3"}, "limit must be a whole number"),
    ({"selected": "*", "tables": "objects", "offset": "99999999999999999999999"},
     "offset must be at most"),
    ({"selected": "nosuchcolumn", "tables": "objects"}, "nosuchcolumn"),
    ({"selected": "diaObjectId", "tables": "objects", "conditions": "ra >"}, "parse"),
    ({"selected": "diaObjectId\x00", "tables": "objects"}, "NUL"),
]


@SQLITE_ONLY
def test_hostile_or_malformed_queries_answer_400_with_a_message(api):
    for args, message in HOSTILE:
        r = api.post("/api/query/", **args)
        assert r.status_code == 400, (args, r.status_code, r.text)
        error = r.json()["error"]
        assert error and (message is None or message.lower() in error.lower()), (args, error)
    # the store is untouched and still answers
    assert api.get("/api/query/", selected="diaObjectId", tables="objects", limit=1).json()


@SQLITE_ONLY
def test_bodies_that_are_not_arguments_answer_400(api):
    h = {**api.headers(), "content-type": "application/json"}
    for body, message in ((b"[1, 2]", "must be an object"), (b"{nope", "not valid JSON"),
                          (b"[" * 100000 + b"]" * 100000, "")):
        r = api.client.post("/api/query/", content=body, headers=h)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    big = b"selected=" + b"x" * (2 << 20)
    r = api.client.post("/api/query/", content=big, headers={
        **api.headers(), "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "larger than" in r.json()["error"]
