"""``skysift config``: show the settings in force (secrets masked)."""

from __future__ import annotations

import json

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["config"]


@click.command()
@pass_ctx
def config(ctx: Context) -> None:
    """Print the settings in force, after config file, environment and flags (secrets masked)."""
    s = ctx.settings
    out = s.redacted()
    out["database_url"] = s.redacted()["database"] or s.database_url
    click.echo(json.dumps(out, indent=2, default=str))
