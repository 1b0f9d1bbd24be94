"""The migrations create exactly the schema ``skysift.store.schema`` describes, on both engines."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from skysift.errors import StoreError
from skysift.store.database import current_revision, head_revision, mask_url, open_store
from skysift.store.schema import metadata


def test_migration_creates_exactly_the_metadata(engine):
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; checked separately below
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
        tables = set(sa.inspect(conn).get_table_names())
    assert diff == []
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert current_revision(engine) == head_revision()
    assert head_revision() >= "0002"


def test_case_insensitive_name_index_exists(engine):
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.execute(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'uq_filters_user_id_lower_name'"
            )).scalar_one()
        else:
            sql = conn.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_filters_user_id_lower_name'"
            )).scalar_one()
    assert "UNIQUE" in sql.upper() and "lower(name)" in sql.lower()


def test_open_store_twice_is_a_no_op(store_url):
    first = open_store(store_url)
    first.dispose()
    second = open_store(store_url)
    try:
        assert current_revision(second) == head_revision()
    finally:
        second.dispose()


def test_open_store_without_migrate_leaves_database_empty(store_url):
    eng = open_store(store_url, migrate=False)
    try:
        with eng.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        eng.dispose()


def test_sqlite_settings(tmp_path):
    eng = open_store(f"sqlite:///{tmp_path / 'sub' / 'store.db'}")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        eng.dispose()


def test_sqlite_transactions_roll_back_ddl_and_dml(tmp_path):
    eng = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with pytest.raises(RuntimeError), eng.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
            conn.execute(sa.text("INSERT INTO ingest_stats (day) VALUES ('2026-01-01')"))
            raise RuntimeError("roll back")
        with eng.connect() as conn:
            assert "scratch" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM ingest_stats")).scalar() == 0
    finally:
        eng.dispose()


def test_unreachable_database_is_a_store_error_with_masked_password():
    url = "postgresql://ann:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)
    assert info.value.url == mask_url(url) == "postgresql://ann:***@127.0.0.1:1/nowhere"


def test_malformed_url_is_a_store_error():
    with pytest.raises(StoreError):
        open_store("not a url at all")
