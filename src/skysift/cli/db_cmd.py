"""``skysift db upgrade``: bring the store's schema to the newest version."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["db"]


@click.group()
def db() -> None:
    """The store (SQLite or PostgreSQL)."""


@db.command()
@pass_ctx
def upgrade(ctx: Context) -> None:
    """Run the Alembic migrations up to the newest schema (every command does this too)."""
    from skysift.cli._common import store

    store(ctx.settings)
    click.echo("store is at the newest schema")
