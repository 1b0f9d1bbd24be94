"""``skysift alerts publish``: produce alert files into a Kafka topic as the survey would."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Alert files and input topics."""


@alerts.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--sample", is_flag=True,
              help="Publish the real LSSTCam alerts that ship with skysift (the demo's).")
@click.option("--topic", default=None, help="Input topic to produce to (default: input_topic).")
@click.option("--rate", type=float, default=None, metavar="N", help="At most N alerts/s.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def publish(ctx: Context, paths: tuple[str, ...], sample: bool, topic: str | None,
            rate: float | None, no_progress: bool) -> None:
    """Produce alert FILES/DIRS (or --sample) into TOPIC in Rubin's framing."""
    from skysift.alerts.publish import publish_files
    from skysift.streams.kafka import admin, make_producer
    from skysift.streams.topics import create_topic

    if sample:
        from skysift.cli.demo_cmd import sample_alerts_dir

        paths = (*paths, str(sample_alerts_dir()))
    if not paths:
        raise click.UsageError("give alert FILES or directories, or --sample")
    topic = topic or ctx.settings.input_topic
    create_topic(admin(ctx.settings), ctx.settings, topic)  # no-op when it exists
    producer = make_producer(ctx.settings)
    n = publish_files(producer, topic, list(paths), rate=rate, progress=not no_progress)
    click.echo(f"published {n} alerts to {topic}")
