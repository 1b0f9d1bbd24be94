"""``skysift user add|list|token``: accounts and API tokens."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["user"]


@click.group()
def user() -> None:
    """Manage users and their API tokens from the command line (on any store; people can
    also sign up on the web site, `skysift serve`)."""


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
@click.option("--label", default="", help="A name for the new token (a script, a machine).")
@click.option("--list", "list_", is_flag=True, help="List the user's tokens instead.")
@click.option("--revoke", "revoke_id", type=int, default=None, metavar="ID",
              help="Revoke the token with this id (from --list) instead.")
@pass_ctx
def token(ctx: Context, name: str, label: str, list_: bool, revoke_id: int | None) -> None:
    """Make another API token for user NAME (the others keep working); or --list, --revoke."""
    from skysift.accounts import get_user, list_tokens, new_token, revoke_token
    from skysift.cli._common import print_table, store
    from skysift.errors import UserError

    with store(ctx.settings).begin() as conn:
        u = get_user(conn, name)
        if list_:
            print_table([{"id": t.id, "token": t.prefix + "...", "name": t.name,
                          "created": f"{t.created:%Y-%m-%d %H:%M}",
                          "last_used": f"{t.last_used:%Y-%m-%d %H:%M}" if t.last_used else "never"}
                         for t in list_tokens(conn, u.id)],
                        ["id", "token", "name", "created", "last_used"])
            return
        if revoke_id is not None:
            if not revoke_token(conn, u.id, revoke_id):
                raise UserError(f"{u.name} holds no token {revoke_id}", user=name)
            click.echo(f"revoked token {revoke_id} of {u.name}")
            return
        click.echo(f"token={new_token(conn, u.id, name=label)}")
