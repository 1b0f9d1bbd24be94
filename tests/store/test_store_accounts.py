"""Constraints of users and filters, on both engines."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from skysift.store.schema import DEFAULT_BYTE_QUOTA, filters, users


def _user(conn, name: str) -> int:
    token = f"token-of-{name}-0123456789"
    return conn.execute(users.insert().values(
        name=name, email=f"{name}@example.org",
        token_hash=hashlib.sha256(token.encode()).hexdigest(), token_prefix=token[:8],
    ).returning(users.c.id)).scalar_one()


def _filter(conn, user_id: int, name: str, topic: str | None = None) -> int:
    return conn.execute(filters.insert().values(
        user_id=user_id, name=name, sql="SELECT objects.diaObjectId FROM objects", topic=topic,
    ).returning(filters.c.id)).scalar_one()


def test_users_get_increasing_ids_and_defaults(engine):
    with engine.begin() as conn:
        a, b = _user(conn, "ann"), _user(conn, "bob")
        row = conn.execute(sa.select(users).where(users.c.id == a)).mappings().one()
    assert b > a >= 1
    assert row["is_admin"] is False and row["is_power"] is False
    assert row["created"].tzinfo is not None and row["password_hash"] is None


def test_user_names_are_unique(engine):
    with engine.begin() as conn:
        _user(conn, "ann")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(users.insert().values(name="ann", token_hash="x" * 64, token_prefix="x" * 8))


def test_filter_names_unique_per_user_ignoring_case(engine):
    with engine.begin() as conn:
        ann, bob = _user(conn, "ann"), _user(conn, "bob")
        _filter(conn, ann, "Fast Risers")
        _filter(conn, bob, "fast risers")  # another user may use the same name
        _filter(conn, ann, "Slow Risers")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _filter(conn, ann, "FAST RISERS")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(filters)).scalar_one() == 3


def test_filter_topics_are_unique_but_may_be_null(engine):
    with engine.begin() as conn:
        ann = _user(conn, "ann")
        _filter(conn, ann, "one", topic="lasair_1one")
        _filter(conn, ann, "two")
        _filter(conn, ann, "three")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _filter(conn, ann, "four", topic="lasair_1one")


def test_filter_defaults_and_checks(engine):
    with engine.begin() as conn:
        ann = _user(conn, "ann")
        fid = _filter(conn, ann, "one")
        row = conn.execute(sa.select(filters).where(filters.c.id == fid)).mappings().one()
    assert row["byte_quota"] == DEFAULT_BYTE_QUOTA
    assert (row["trigger"], row["output"], row["public"]) == ("none", "plain", False)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(filters.insert().values(user_id=ann, name="bad", sql="x", trigger="always"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(filters.insert().values(user_id=ann, name="bad", sql="x", output="xml"))


def test_filters_need_an_existing_user(engine):
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _filter(conn, 999, "orphan")
