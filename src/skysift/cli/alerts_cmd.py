"""``skysift alerts publish``: produce alert files into a Kafka topic as the survey would."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Alert files and input topics."""


@alerts.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--topic", required=True, help="Input topic to produce to.")
@click.option("--rate", type=float, default=None, metavar="N", help="At most N alerts/s.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def publish(ctx: Context, paths: tuple[str, ...], topic: str, rate: float | None,
            no_progress: bool) -> None:
    """Produce alert FILES/DIRS into TOPIC in Rubin's framing."""
    from confluent_kafka import Producer

    from skysift.alerts.publish import publish_files
    from skysift.streams.kafka import admin, producer_config
    from skysift.streams.topics import create_topic

    create_topic(admin(ctx.settings), ctx.settings, topic)  # no-op when it exists
    producer = Producer(producer_config(ctx.settings))
    n = publish_files(producer, topic, list(paths), rate=rate, progress=not no_progress)
    click.echo(f"published {n} alerts to {topic}")
