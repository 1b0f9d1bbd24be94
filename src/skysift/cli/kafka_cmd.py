"""``skysift kafka up|status|down``: the embedded broker of the data directory."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["kafka"]


@click.group()
def kafka() -> None:
    """Start, check and stop the embedded Kafka broker (Tansu, in memory)."""


@kafka.command()
@click.option("--port", type=int, default=None, help="Port to listen on (default: a free one).")
@pass_ctx
def up(ctx: Context, port: int | None) -> None:
    """Start the embedded broker in the background; prints bootstrap=HOST:PORT."""
    from skysift.streams import embedded

    s = ctx.settings
    info = embedded.up(s.data_dir, port or s.embedded_kafka_port)
    click.echo(f"bootstrap={info.bootstrap}")
    click.echo(
        f"pid={info.pid}  (in memory: a restart loses topics, records and offsets)", err=True
    )


@kafka.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Say whether the embedded broker is running (exit 1 when it is not)."""
    from skysift.streams import embedded

    info = embedded.status(ctx.settings.data_dir)
    if info is None:
        click.echo("embedded broker: not running")
        raise click.exceptions.Exit(1)
    click.echo(f"embedded broker: running pid={info.pid} bootstrap={info.bootstrap}")


@kafka.command()
@pass_ctx
def down(ctx: Context) -> None:
    """Stop the embedded broker."""
    from skysift.streams import embedded

    was = embedded.down(ctx.settings.data_dir)
    click.echo("embedded broker: stopped" if was else "embedded broker: was not running")
