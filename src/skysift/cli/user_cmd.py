"""``skysift user add|list|token``: accounts and API tokens."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["user"]


@click.group()
def user() -> None:
    """Manage users (the web sign-up comes later; this works on any store)."""


@user.command("add")
@click.argument("name")
@click.option("--email", default=None, help="The user's email address.")
@click.option("--admin", is_flag=True, help="Give the user the admin flag.")
@pass_ctx
def add(ctx: Context, name: str, email: str | None, admin: bool) -> None:
    """Create a user; prints the numeric id and the API token (shown once)."""
    from skysift.accounts import add_user
    from skysift.cli._common import store

    engine = store(ctx.settings)
    with engine.begin() as conn:
        u, token = add_user(conn, name, email, is_admin=admin)
    click.echo(f"id={u.id}")
    click.echo(f"token={token}")


@user.command("list")
@pass_ctx
def list_(ctx: Context) -> None:
    """List users (ids, names, emails; never tokens)."""
    from skysift.accounts import list_users
    from skysift.cli._common import print_table, store

    with store(ctx.settings).connect() as conn:
        rows = [{"id": u.id, "name": u.name, "email": u.email, "admin": u.is_admin}
                for u in list_users(conn)]
    print_table(rows)


@user.command("token")
@click.argument("name")
@pass_ctx
def token(ctx: Context, name: str) -> None:
    """Make a new API token for a user (the old one stops working)."""
    from skysift.accounts import get_user, new_token
    from skysift.cli._common import store

    with store(ctx.settings).begin() as conn:
        u = get_user(conn, name)
        click.echo(f"token={new_token(conn, u.id)}")
