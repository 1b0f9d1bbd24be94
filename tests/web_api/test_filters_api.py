"""/api/filters/ end to end with the real Kafka broker, and /api/topics/: side effects as the
CLI."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.kafka

NORTH = "SELECT objects.diaObjectId, objects.decl FROM objects WHERE objects.decl > 89"
SOUTH = "SELECT objects.diaObjectId, objects.decl FROM objects WHERE objects.decl < -89"


def _expected_seed(world, sql: str) -> set[int]:
    """The ids seeding should put in the topic: the newest seed_records matches."""
    from skysift.filters.manage import run_filter

    with world.engine.connect() as conn:
        rows = run_filter(conn, world.settings, sql, limit=world.settings.seed_records,
                          recent_first=True).rows
    return {int(r["diaObjectId"]) for r in rows}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # manage is tested on both
def test_create_update_delete_filter_through_the_api(make_world, kafka_bootstrap, topic_reader,
                                                     unique_name):
    world = make_world(kafka=kafka_bootstrap, seed_records=4)
    name = unique_name("north")
    r = world.client.post("/api/filters/", headers=world.headers(), json={
        "name": name, "sql": NORTH, "output": "plain", "trigger": "alert",
        "description": "near the pole"})
    assert r.status_code == 201, r.text
    created = r.json()
    alice = world.users["alice"]
    assert created["topic"] == f"lasair_{alice.id}{name}" and created["owner_id"] == alice.id
    assert created["active"] and created["description"] == "near the pole"

    records = [json.loads(m.value()) for m in topic_reader(created["topic"], expect=4)]
    assert {rec["diaObjectId"] for rec in records} == _expected_seed(world, NORTH)
    assert len(records) == 4 and all(rec["decl"] > 89 and "UTC" in rec for rec in records)

    # an edit empties the topic and seeds it again, from the new SQL (Lasair's parts work too)
    r = world.client.patch(f"/api/filters/{created['id']}/", headers=world.headers(), json={
        "selected": "objects.diaObjectId, objects.decl", "tables": "objects",
        "conditions": "objects.decl < -89"})
    assert r.status_code == 200, r.text
    assert r.json()["sql"].startswith("SELECT objects.diaObjectId")
    records = [json.loads(m.value()) for m in topic_reader(created["topic"], expect=4)]
    assert {rec["diaObjectId"] for rec in records} == _expected_seed(world, SOUTH)
    assert len(records) == 4 and all(rec["decl"] < -89 for rec in records)

    assert world.get(f"/api/filters/{created['id']}/").json()["sql"] == r.json()["sql"]
    r = world.client.delete(f"/api/filters/{created['id']}/", headers=world.headers())
    assert r.status_code == 200 and r.json() == {"deleted": created["id"]}
    assert world.get(f"/api/filters/{created['id']}/").status_code == 404
    from skysift.streams.kafka import admin
    from skysift.streams.topics import topic_exists

    assert not topic_exists(admin(world.settings), created["topic"])


def test_private_filters_are_invisible_and_public_ones_read_only(make_world, kafka_bootstrap,
                                                                 topic_reader):
    world = make_world(kafka=kafka_bootstrap, seed_records=2)
    mine = world.client.post("/api/filters/", headers=world.headers("bob"), data={
        "name": "secret", "sql": NORTH}).json()
    shared = world.client.post("/api/filters/", headers=world.headers("bob"), data={
        "name": "shared", "sql": SOUTH, "public": "true", "output": "lite"}).json()
    assert mine["public"] is False and shared["public"] is True

    listed = {f["name"] for f in world.get("/api/filters/", who="alice").json()["filters"]}
    assert listed == {"shared"}
    assert world.get("/api/filters/", who="alice", mine="true").json() == {"filters": []}
    assert {f["name"] for f in world.get("/api/filters/", who="bob").json()["filters"]} == {
        "secret", "shared"}
    assert world.get(f"/api/filters/{mine['id']}/", who="alice").status_code == 404
    assert world.get(f"/api/filters/{shared['id']}/", who="alice").json()["name"] == "shared"
    for method in ("PATCH", "PUT"):
        r = world.client.request(method, f"/api/filters/{shared['id']}/",
                                 headers=world.headers(), json={"name": "taken"})
        assert r.status_code == 403
    r = world.client.patch(f"/api/filters/{mine['id']}/", headers=world.headers(),
                           json={"name": "x"})
    assert r.status_code == 404  # a private filter is never even 403
    assert world.client.delete(f"/api/filters/{shared['id']}/",
                               headers=world.headers()).status_code == 403

    topics = world.get("/api/topics/", who="alice").json()["topics"]
    assert [t["topic"] for t in topics] == [shared["topic"]]
    entry = topics[0]
    assert entry["filter"] == "shared" and entry["owner_id"] == world.users["bob"].id
    assert entry["output"] == "lite" and entry["public"] is True
    assert entry["records_produced"] == 2 and entry["records_rejected"] == 0  # the seed records
    assert entry["bytes_produced"] > 0 and entry["last_record_at"]
    bob_topics = {t["topic"] for t in world.get("/api/topics/", who="bob").json()["topics"]}
    assert bob_topics == {mine["topic"], shared["topic"]}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_bad_filters_answer_400(make_world, kafka_bootstrap):
    world = make_world(kafka=kafka_bootstrap)
    h = world.headers()
    for body, message in (
            ({"name": "a", "sql": "SELECT * FROM users"}, "users"),
            ({"name": "a", "sql": "DELETE FROM objects"}, "only SELECT"),
            ({"name": "a"}, "sql is required"),
            ({"sql": NORTH}, "name is required"),
            ({"name": "a", "sql": NORTH, "output": "sms"}, "output must be one of"),
            ({"name": "a", "sql": NORTH, "byte_quota": -1}, "unknown field(s): byte_quota"),
            ({"name": "a", "sql": NORTH, "selected": "x"}, "not both"),
            ({"name": "n" * 300, "sql": NORTH}, "name is longer than 256")):
        r = world.client.post("/api/filters/", headers=h, json=body)
        assert r.status_code == 400 and message in r.json()["error"], (body, r.text)
    dup = {"name": "dup", "sql": NORTH, "trigger": "none"}
    assert world.client.post("/api/filters/", headers=h, json=dup).status_code == 201
    r = world.client.post("/api/filters/", headers=h, json={"name": "DUP", "sql": NORTH})
    assert r.status_code == 400 and "already have a filter" in r.json()["error"]
    assert world.get("/api/filters/abc/").status_code == 400
    assert world.get("/api/filters/99999999999/").status_code == 400
    from skysift.store.schema import filters

    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(filters)).scalar() == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_lasair_style_form_post_makes_an_active_filter(make_world, kafka_bootstrap, unique_name):
    """Lasair's scripts POST selected/tables/conditions as a form, with no trigger: the filter
    runs on new alerts (as `skysift filter add`), not only holds its seeded records."""
    world = make_world(kafka=kafka_bootstrap)
    r = world.client.post("/api/filters/", headers=world.headers(), data={
        "name": unique_name("form"), "selected": "objects.diaObjectId", "tables": "objects",
        "conditions": "objects.decl > 89"})
    assert r.status_code == 201, r.text
    assert r.json()["trigger"] == "alert" and r.json()["active"] is True


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_name_with_no_ascii_letter_or_digit_is_refused(make_world, kafka_bootstrap):
    world = make_world(kafka=kafka_bootstrap)
    r = world.client.post("/api/filters/", headers=world.headers(), json={
        "name": "超新星_ñ_🚀", "sql": "SELECT objects.diaObjectId FROM objects"})
    assert r.status_code == 400
    assert "at least one ASCII letter or digit" in r.json()["error"]
    assert "'lasair_" in r.json()["error"]
    with world.engine.connect() as conn:
        from skysift.store.schema import filters

        assert conn.execute(sa.select(sa.func.count()).select_from(filters)).scalar() == 0
