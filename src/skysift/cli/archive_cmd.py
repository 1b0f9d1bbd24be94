"""``skysift archive list|prune``: the alert archive's nights."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["archive"]


@click.group("archive")
def archive() -> None:
    """The alert archive: every ingested alert as received, by observing night."""


@archive.command("list")
@pass_ctx
def list_(ctx: Context) -> None:
    """Archived nights, oldest first: files, alerts as received (duplicates included), bytes
    (compressed)."""
    from skysift.archive import archive_store, list_nights

    store = archive_store(ctx.settings)
    nights = list_nights(store)
    click.echo(f"archive {store.location}: {len(nights)} night(s), keeping the newest "
               f"{ctx.settings.archive_nights}")
    if not nights:
        return
    click.echo(f"{'night':<12} {'files':>5} {'alerts':>9} {'bytes':>13} {'bytes/alert':>11}")
    for n in nights:
        per = n.bytes / n.alerts if n.alerts else 0
        click.echo(f"{n.night:<12} {len(n.files):>5} {n.alerts:>9} {n.bytes:>13,} {per:>11.0f}")
    click.echo(f"{'total':<12} {sum(len(n.files) for n in nights):>5} "
               f"{sum(n.alerts for n in nights):>9} {sum(n.bytes for n in nights):>13,}")
    click.echo("(alerts as received: one sent twice is archived twice; a backtest "
               "counts each diaSourceId once)")


@archive.command("prune")
@click.option("--keep", type=click.IntRange(0), default=None,
              help="Keep the newest N nights (default: the setting archive_nights).")
@pass_ctx
def prune(ctx: Context, keep: int | None) -> None:
    """Delete the archived nights older than the newest N."""
    from skysift.archive import archive_store, prune_nights

    n = ctx.settings.archive_nights if keep is None else keep
    gone = prune_nights(archive_store(ctx.settings), n)
    click.echo(f"deleted {len(gone)} night(s)" + (f": {', '.join(gone)}" if gone else "")
               + f"; keeping the newest {n}")
