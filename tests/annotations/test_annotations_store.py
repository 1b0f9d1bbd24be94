"""Annotations in the store and in filters, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from skysift.annotations.service import submit
from skysift.annotations.store import get_annotations
from skysift.errors import FilterRejected
from skysift.filters.manage import run_filter
from skysift.store.schema import objects

HOSTILE = "it's \"quoted\"; DROP TABLE annotations; -- \\ ünïcødé ☄ 彗星"


def _objects(engine, ids):
    from datetime import UTC, datetime

    with engine.begin() as conn:
        conn.execute(objects.insert(), [{"diaObjectId": i, "ra": 10.0, "decl": -5.0,
                                         "lastDiaSourceMjdTai": 60000.0 + n,
                                         "updated": datetime.now(UTC)}
                                        for n, i in enumerate(ids)])


def test_quotes_and_unicode_are_data_and_updates_replace(world):
    a = world.users["alice"]
    r = submit(world.engine, [{"topic": "fruitbat", "objectId": 42, "classification": HOSTILE,
                               "version": "v'1", "explanation": HOSTILE,
                               "classdict": '{"k": "' + "ü'\\\"" + '", "x": -20.5}',
                               "url": "https://e.org/?q=a'b"}], user_id=a.id)
    assert not r.rejected
    with world.engine.connect() as conn:
        first = get_annotations(conn, 42)
    assert len(first) == 1 and first[0]["classification"] == HOSTILE
    assert first[0]["explanation"] == HOSTILE and first[0]["version"] == "v'1"
    time.sleep(0.01)
    submit(world.engine, [{"topic": "fruitbat", "objectId": "42", "classification": "SN"}],
           user_id=a.id)
    with world.engine.connect() as conn:
        second = get_annotations(conn, 42)
        assert conn.execute(sa.text("SELECT count(*) FROM annotations")).scalar() == 1
    assert second[0]["classification"] == "SN" and second[0]["timestamp"] > first[0]["timestamp"]
    assert second[0]["explanation"] == ""  # replaced, not merged


def test_a_batch_keeps_the_good_and_reports_the_bad(world):
    a = world.users["alice"]
    r = submit(world.engine, [
        {"topic": "fruitbat", "objectId": 1, "classification": "SN"},
        {"topic": "fruitbat", "objectId": 2, "classification": "x" * 81},
        {"topic": "bobcat", "objectId": 3, "classification": "AGN"},
        {"topic": "nosuch", "objectId": 4, "classification": "AGN"},
        {"topic": "fruitbat", "objectId": 5, "classification": "SN", "classdict": "[1, 2]"},
        {"topic": "fruitbat", "objectId": "abc", "classification": "SN"},
        {"topic": "secretbat", "objectId": 7, "classification": "KN", "classdict": {"p": 0.9}},
    ], user_id=a.id)
    assert [a.diaObjectId for a in r.stored] == [1, 7]
    reasons = {i: (why, status) for i, why, status in r.rejected}
    assert set(reasons) == {1, 2, 3, 4, 5}
    assert "longer than 80" in reasons[1][0]
    assert reasons[2][1] == 403 and "not yours" in reasons[2][0]
    assert "no annotator 'nosuch'" in reasons[3][0]
    assert "JSON object" in reasons[4][0] and "whole number" in reasons[5][0]


def test_an_inactive_annotator_takes_nothing(world):
    from skysift.annotations.store import set_annotator

    with world.engine.begin() as conn:
        set_annotator(conn, "fruitbat", active=False)
    r = submit(world.engine, [{"topic": "fruitbat", "objectId": 1, "classification": "SN"}],
               user_id=world.users["alice"].id)
    assert not r.stored and "not active" in r.rejected[0][1]


def test_filters_join_annotators_and_read_classdict(world):
    alice, bob = world.users["alice"], world.users["bob"]
    _objects(world.engine, [101, 102, 103, 104])
    submit(world.engine, [
        {"topic": "fruitbat", "objectId": 101, "classification": "SN",
         "classdict": {"lsst-r": {"peak": -20.5}, "kind": "Ia", "n": [3, 4]}},
        {"topic": "fruitbat", "objectId": 102, "classification": "SN",
         "classdict": {"lsst-r": {"peak": -18.0}, "kind": "II"}},
        {"topic": "fruitbat", "objectId": 103, "classification": "AGN",
         "classdict": {"lsst-r": {"peak": "bright"}, "kind": 5}},
        {"topic": "fruitbat", "objectId": 999, "classification": "SN"},  # not in the store
    ], user_id=alice.id)
    run = lambda sql, user: run_filter(world.engine.connect(), world.settings, sql,  # noqa: E731
                                       user_id=user.id).rows
    rows = run("SELECT objects.diaObjectId, fruitbat.classification FROM objects, fruitbat "
               "WHERE fruitbat.classification = 'SN' ORDER BY objects.diaObjectId", bob)
    assert rows == [{"diaObjectId": 101, "classification": "SN"},
                    {"diaObjectId": 102, "classification": "SN"}]
    # numbers: Lasair's spelling, unquoted key with '-', a string value is not a number
    rows = run("SELECT objects.diaObjectId FROM objects, fruitbat "
               "WHERE JSON_EXTRACT(fruitbat.classdict, '$.lsst-r.peak') < -19", bob)
    assert [r["diaObjectId"] for r in rows] == [101]
    rows = run("SELECT objects.diaObjectId FROM objects, fruitbat "
               "WHERE JSON_EXTRACT(fruitbat.classdict, '$.lsst-r.peak') > -19", bob)
    assert [r["diaObjectId"] for r in rows] == [102]
    # compared with a column, the column's type decides (was an operator error on PostgreSQL):
    # decl is -5.0 for every object, so only the -20.5 peak is below it
    rows = run("SELECT objects.diaObjectId FROM objects, fruitbat "
               "WHERE JSON_EXTRACT(fruitbat.classdict, '$.lsst-r.peak') < objects.decl", bob)
    assert [r["diaObjectId"] for r in rows] == [101, 102]
    rows = run("SELECT objects.diaObjectId FROM objects, fruitbat "
               "WHERE objects.lastDiaSourceMjdTai BETWEEN JSON_EXTRACT(fruitbat.classdict, "
               "'$.lsst-r.peak') AND objects.lastDiaSourceMjdTai ORDER BY 1", bob)
    assert [r["diaObjectId"] for r in rows] == [101, 102]
    rows = run("SELECT objects.diaObjectId FROM objects, fruitbat "
               "WHERE JSON_EXTRACT(fruitbat.classdict, '$.kind') <> fruitbat.classification "
               "ORDER BY 1", bob)
    assert [r["diaObjectId"] for r in rows] == [101, 102]  # 103's kind is a number, not text
    # strings: a number 5 is not the string '5'; array index
    rows = run("SELECT objects.diaObjectId, JSON_EXTRACT(fruitbat.classdict, '$.kind') AS kind, "
               "JSON_EXTRACT(fruitbat.classdict, '$.n[1]') AS n1 FROM objects, fruitbat "
               "WHERE JSON_EXTRACT(fruitbat.classdict, '$.kind') = 'Ia' "
               "OR JSON_EXTRACT(fruitbat.classdict, '$.kind') = '5'", bob)
    assert rows == [{"diaObjectId": 101, "kind": "Ia", "n1": 4}]
    rows = run("SELECT objects.diaObjectId, fruitbat.timestamp AS t FROM objects "
               "JOIN fruitbat ON fruitbat.diaObjectId = objects.diaObjectId "
               "WHERE fruitbat.timestamp > '2000-01-01' ORDER BY 1", alice)
    assert [r["diaObjectId"] for r in rows] == [101, 102, 103]
    assert len(rows[0]["t"]) == 26 and rows[0]["t"][10] == " "  # same text on both engines


def test_a_private_annotator_is_its_owners_only(world):
    alice, bob = world.users["alice"], world.users["bob"]
    _objects(world.engine, [201])
    submit(world.engine, [{"topic": "secretbat", "objectId": 201, "classification": "KN"}],
           user_id=alice.id)
    sql = "SELECT objects.diaObjectId FROM objects, secretbat WHERE secretbat.classification = 'KN'"
    with world.engine.connect() as conn:
        assert run_filter(conn, world.settings, sql, user_id=alice.id).rows == [
            {"diaObjectId": 201}]
        with pytest.raises(FilterRejected, match="secretbat"):
            run_filter(conn, world.settings, sql, user_id=bob.id)
    from skysift.filters.manage import add_filter

    with pytest.raises(FilterRejected, match="secretbat"):
        add_filter(world.engine, world.settings, bob, name="peek", sql=sql, trigger="none")
    # JSON_EXTRACT reads only the JSON column
    with world.engine.connect() as conn, pytest.raises(FilterRejected, match="JSON column"):
        run_filter(conn, world.settings, "SELECT objects.diaObjectId FROM objects, fruitbat "
                   "WHERE JSON_EXTRACT(fruitbat.explanation, '$.a') = 1", user_id=bob.id)
