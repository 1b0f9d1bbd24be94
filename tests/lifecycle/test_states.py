"""Every state of a filter's life on the real broker: deactivate, reactivate, metadata-only
edits, run-time failure (notices at most once a day), expiry (warning, then deactivation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from lifecycle_alerts import write_new_alerts

from skysift.accounts import add_user
from skysift.filters.manage import add_filter, edit_filter, get_filter
from skysift.ingest import ingest_files
from skysift.notify import Notifier
from skysift.store.database import open_store
from skysift.streams.kafka import admin
from skysift.streams.topics import topic_exists

SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"
# a real run-time failure of SQLite (not a validation error): integer overflow in ABS
FAILING = ("SELECT objects.diaObjectId FROM objects "
           "WHERE ABS(objects.diaObjectId * 0 - 9223372036854775807 - 1) > 0")


@pytest.fixture
def world(make_settings, kafka_bootstrap, inbox, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, seed_records=3, smtp_host="127.0.0.1",
                             smtp_port=inbox.port, smtp_security="none", notify_interval_s=0)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"), email="owner@example.org")
    return settings, engine, user


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_deactivate_keeps_the_topic_and_produces_nothing_more(world, tmp_path, topic_reader):
    settings, engine, user = world
    flt = add_filter(engine, settings, user, name="watch", sql=SQL, output="plain",
                     trigger="alert")
    ids = write_new_alerts(tmp_path / "a", 4, 8_000_000_001)
    ingest_files(settings, [tmp_path / "a"], progress=False, engine=engine)
    before = topic_reader(flt.topic, expect=4)
    assert sorted(int(m.key()) for m in before) == ids

    # a description-only edit leaves the topic alone (no emptying, no seeding)
    flt = edit_filter(engine, settings, flt, description="only words")
    assert [m.offset() for m in topic_reader(flt.topic, expect=4)] == [m.offset() for m in before]

    # deactivate: the topic stays with its records; new alerts produce nothing
    off = edit_filter(engine, settings, flt, trigger="none")
    assert not off.active and off.expires is None
    assert topic_exists(admin(settings), off.topic)
    write_new_alerts(tmp_path / "b", 3, 8_000_000_101)
    totals = ingest_files(settings, [tmp_path / "b"], progress=False, engine=engine)
    assert totals.records_produced == 0
    after = topic_reader(off.topic, idle_s=3)
    assert [(m.offset(), m.value()) for m in after] == [(m.offset(), m.value()) for m in before]

    # activate again: an edit of the trigger empties the topic and seeds it (reason reset)
    on = edit_filter(engine, settings, off, trigger="alert")
    seeded = topic_reader(on.topic, idle_s=3)
    assert len(seeded) == settings.seed_records
    assert all(dict(m.headers())["reason"] == b"reset" for m in seeded)
    assert on.expires is not None


def test_a_failing_filter_shows_its_error_and_mails_its_owner_at_most_daily(
        world, tmp_path, inbox):
    settings, engine, user = world
    bad = add_filter(engine, settings, user, name="broken", sql=FAILING, output="plain",
                     trigger="alert")  # the store is empty: seeding runs it over no rows
    good = add_filter(engine, settings, user, name="fine", sql=SQL, output="plain",
                      trigger="alert")
    clock = Clock()
    notifier = Notifier(settings, engine, clock=clock)

    def batch(name, first_id):
        write_new_alerts(tmp_path / name, 2, first_id)
        return ingest_files(settings, [tmp_path / name], progress=False, engine=engine)

    totals = batch("b1", 8_100_000_001)
    assert "integer overflow" in totals.filter_errors["broken"]
    assert totals.per_topic[good.topic] == 2  # the others go on
    with engine.connect() as conn:
        shown = get_filter(conn, "broken", user)
    assert "integer overflow" in shown.last_error and shown.last_error_at is not None

    clock.now = datetime.now(UTC)
    assert notifier.run().failure_notices == ["broken"]
    (msg,) = inbox.take()
    assert msg["To"] == "owner@example.org" and "broken" in msg["Subject"]
    assert "integer overflow" in msg.get_content()

    for k in range(3):  # it keeps failing, batch after batch: no more email that day
        batch(f"b{k + 2}", 8_100_000_101 + 100 * k)
        clock.now = datetime.now(UTC) + timedelta(hours=k)
        assert notifier.run().failure_notices == [] and inbox.take() == []

    clock.now += timedelta(hours=22)  # a day after the first notice, it failed again since
    assert notifier.run().failure_notices == ["broken"]
    assert len(inbox.take()) == 1
    clock.now += timedelta(days=2)  # no new failure since the last notice: no email
    assert notifier.run().failure_notices == [] and inbox.take() == []

    # the error is on its page and in the API too
    from fastapi.testclient import TestClient

    from skysift.accounts import new_token
    from skysift.web.app import create_app

    with engine.begin() as conn:
        token = new_token(conn, user.id)
    client = TestClient(create_app(settings, engine))
    got = client.get(f"/api/filters/{bad.id}/", headers={"Authorization": f"Token {token}"})
    assert got.status_code == 200 and "integer overflow" in got.json()["last_error"]


def test_active_filters_expire_after_a_warning(world, inbox, topic_reader, tmp_path):
    settings, engine, user = world
    flt = add_filter(engine, settings, user, name="ages", sql=SQL, output="lite",
                     trigger="alert")
    saved = datetime.now(UTC)
    assert flt.expires is not None
    assert abs(flt.expires - (saved + timedelta(days=180))) < timedelta(minutes=1)
    write_new_alerts(tmp_path / "a", 2, 8_200_000_001)
    ingest_files(settings, [tmp_path / "a"], progress=False, engine=engine)
    idle = add_filter(engine, settings, user, name="idle", sql=SQL, output="plain")
    assert idle.expires is None  # inactive filters never expire
    clock = Clock()
    notifier = Notifier(settings, engine, clock=clock)

    clock.now = saved + timedelta(days=151)  # 29 days before
    assert notifier.run().emails == 0 and inbox.take() == []
    clock.now = saved + timedelta(days=153)  # 27 days before: warned, once
    assert notifier.run().expiry_warnings == ["ages"]
    (msg,) = inbox.take()
    assert "expires" in msg["Subject"] and "ages" in msg["Subject"]
    clock.now = saved + timedelta(days=170)
    assert notifier.run().emails == 0 and inbox.take() == []

    clock.now = saved + timedelta(days=181)  # expired: deactivated, owner told, topic stays
    assert notifier.run().expired == ["ages"]
    (msg,) = inbox.take()
    assert "expired" in msg["Subject"]
    with engine.connect() as conn:
        now = get_filter(conn, "ages", user)
    assert now.trigger == "none" and not now.active
    assert topic_exists(admin(settings), now.topic)
    assert len(topic_reader(now.topic, idle_s=2)) == 2  # its records stay
    assert notifier.run().emails == 0  # once

    # saving it active again: a new expiry, and it can be warned again
    again = edit_filter(engine, settings, now, trigger="alert")
    assert again.expires > saved + timedelta(days=179)
    with engine.connect() as conn:
        from skysift.store.schema import filters

        warned = conn.execute(sa.select(filters.c.expiry_warned_at)
                              .where(filters.c.id == again.id)).scalar()
    assert warned is None
