"""Alembic environment for the skysift store.

Run programmatically by :func:`skysift.store.database.open_store`, which passes an open connection
in ``config.attributes["connection"]``; there is no alembic.ini on disk. For hand use (writing a new
revision), :func:`skysift.store.database.alembic_config` builds the same Config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context

if TYPE_CHECKING:
    from sqlalchemy import Connection

from skysift.store.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the connection handed in by the caller, or a fresh one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    import sqlalchemy as sa

    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: no connection was handed in and no sqlalchemy.url is set")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
