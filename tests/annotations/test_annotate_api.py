"""``/api/annotate/`` and ``/api/annotatelist/`` through the real ``lasair`` client, unchanged,
against a real uvicorn server."""

from __future__ import annotations

import pytest
import requests
from lasair import LasairError, lasair_client

from skysift.annotations.store import get_annotations

TEXT = "l'objet « étrange » \"x\" ☄; DROP TABLE users --"


def test_annotate_and_annotate_list_with_the_lasair_client(world, live):
    alice = lasair_client(world.tokens["alice"], endpoint=f"{live}/api")
    out = alice.annotate("fruitbat", 123456789012345678, "SN", version="0.2",
                         explanation=TEXT, classdict={"p": 0.93, "note": TEXT},
                         url="https://example.org/a?b='c'")
    assert out["status"] == "success" and out["annotation_topic"] == "fruitbat"
    with world.engine.connect() as conn:
        (ann,) = get_annotations(conn, 123456789012345678)
    assert ann["explanation"] == TEXT and ann["version"] == "0.2"
    import json

    assert json.loads(ann["classdict"]) == {"p": 0.93, "note": TEXT}

    result = alice.annotate_list([
        {"objectId": 1, "topic": "fruitbat", "classification": "AGN"},
        {"objectId": 2, "topic": "fruitbat", "classification": "x" * 81},
        {"objectId": 3, "topic": "bobcat", "classification": "SN"},
        {"objectId": 4, "topic": "secretbat", "classification": TEXT[:80]},
    ])
    assert result["status"] == "partial" and result["stored"] == 2
    assert [e["index"] for e in result["errors"]] == [1, 2]
    assert "80" in result["errors"][0]["error"] and "not yours" in result["errors"][1]["error"]
    with world.engine.connect() as conn:
        assert get_annotations(conn, 1)[0]["classification"] == "AGN"
        assert get_annotations(conn, 2) == [] and get_annotations(conn, 3) == []
        assert get_annotations(conn, 4)[0]["classification"] == TEXT[:80]


def test_only_the_owner_may_write(world, live):
    bob = lasair_client(world.tokens["bob"], endpoint=f"{live}/api")
    with pytest.raises(LasairError):
        bob.annotate("fruitbat", 7, "SN")
    r = requests.post(f"{live}/api/annotate/", data={"topic": "fruitbat", "objectId": 7,
                                                     "classification": "SN"},
                      headers={"Authorization": f"Token {world.tokens['bob']}"}, timeout=30)
    assert r.status_code == 403 and "not yours" in r.json()["error"]
    r = requests.post(f"{live}/api/annotatelist/", json={"annotations": [
        {"topic": "fruitbat", "objectId": 7, "classification": "SN"}]},
        headers={"Authorization": f"Token {world.tokens['bob']}"}, timeout=30)
    assert r.status_code == 403 and r.json()["errors"][0]["index"] == 0
    with pytest.raises(LasairError, match="Unauthorized"):
        lasair_client("0" * 40, endpoint=f"{live}/api").annotate("fruitbat", 7, "SN")
    with world.engine.connect() as conn:
        assert get_annotations(conn, 7) == []
    alice = lasair_client(world.tokens["alice"], endpoint=f"{live}/api")
    with pytest.raises(LasairError, match="classdict"):
        alice.annotate("fruitbat", 7, "SN", classdict=[1, 2])
    with pytest.raises(LasairError, match="no annotator"):
        alice.annotate("nosuch", 7, "SN")


def test_query_tables_take_lasairs_annotator_spelling(world, live):
    """/api/query/ through the lasair client: ``tables='objects,annotator:fruitbat'`` (and
    ``annotator:a&b``) joins those annotators as Lasair's site writes it; other pickers and
    names that are not annotators are refused naming the field; private annotators stay their
    owner's."""
    from datetime import UTC, datetime

    from skysift.annotations.service import submit
    from skysift.store.schema import objects

    with world.engine.begin() as conn:
        conn.execute(objects.insert(), [{"diaObjectId": i, "ra": 1.0, "decl": 2.0,
                                         "updated": datetime.now(UTC)} for i in (71, 72, 73)])
    submit(world.engine, [{"topic": "fruitbat", "objectId": 71, "classification": "SN"},
                          {"topic": "fruitbat", "objectId": 72, "classification": "AGN"}],
           user_id=world.users["alice"].id)
    submit(world.engine, [{"topic": "bobcat", "objectId": 72, "classification": "var"}],
           user_id=world.users["bob"].id)
    bob = lasair_client(world.tokens["bob"], endpoint=f"{live}/api")
    rows = bob.query("objects.diaObjectId, fruitbat.classification", "objects,annotator:fruitbat",
                     "fruitbat.classification = 'SN'")
    assert rows == [{"diaObjectId": 71, "classification": "SN"}]
    rows = bob.query(
        "objects.diaObjectId, fruitbat.classification AS f, bobcat.classification AS b",
        "objects, annotator:fruitbat&bobcat",
        "",
    )
    assert rows == [{"diaObjectId": 72, "f": "AGN", "b": "var"}]
    for tables, word in (("objects,watchlist:x", "watchlist ids"), ("objects,annotator:x y", "x y"),
                         ("objects,annotator:secretbat", "secretbat")):
        with pytest.raises(LasairError, match=word):
            bob.query("objects.diaObjectId", tables, "")
