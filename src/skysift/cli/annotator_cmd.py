"""``skysift annotator add|list|set`` (admin) and ``skysift annotations ingest|show``."""

from __future__ import annotations

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["annotations", "annotator"]


@click.group("annotator")
def annotator() -> None:
    """Annotators: named topics whose owner may annotate objects (admin commands)."""


@annotator.command("add")
@click.argument("topic")
@click.option("--owner", required=True, help="The user who may write its annotations.")
@click.option("--description", default="", help="What it classifies.")
@click.option("--url", default="", help="A page about it.")
@click.option("--public", is_flag=True,
              help="Usable in everyone's filters (else only the owner's).")
@pass_ctx
def add(ctx: Context, topic: str, owner: str, description: str, url: str, public: bool) -> None:
    """Register annotator TOPIC (a valid SQL name: filters join it as a table)."""
    from skysift.accounts import get_user
    from skysift.annotations.store import add_annotator
    from skysift.cli._common import store

    with store(ctx.settings).begin() as conn:
        a = add_annotator(conn, topic, get_user(conn, owner).id, description=description,
                          url=url, public=public)
    click.echo(
        f"annotator {a.topic} owned by {a.user_name} ({'public' if a.public else 'private'})"
    )


@annotator.command("set")
@click.argument("topic")
@click.option("--owner", default=None, help="A new owner.")
@click.option("--description", default=None)
@click.option("--url", default=None)
@click.option("--public/--private", default=None)
@click.option("--active/--inactive", default=None, help="Inactive: no annotations accepted.")
@pass_ctx
def set_(ctx: Context, topic: str, owner: str | None, description: str | None, url: str | None,
         public: bool | None, active: bool | None) -> None:
    """Change an annotator."""
    from skysift.accounts import get_user
    from skysift.annotations.store import set_annotator
    from skysift.cli._common import store

    with store(ctx.settings).begin() as conn:
        user_id = get_user(conn, owner).id if owner else None
        a = set_annotator(conn, topic, description=description, url=url, public=public,
                          active=active, user_id=user_id)
    click.echo(f"annotator {a.topic}: owner {a.user_name}, "
               f"{'public' if a.public else 'private'}, {'active' if a.active else 'inactive'}")


@annotator.command("list")
@pass_ctx
def list_(ctx: Context) -> None:
    """Every annotator, with its owner and number of live annotations."""
    import sqlalchemy as sa

    from skysift.annotations.store import list_annotators
    from skysift.cli._common import print_table, store
    from skysift.store.schema import annotations_table as t

    with store(ctx.settings).connect() as conn:
        found = list_annotators(conn)
        counts = dict(conn.execute(sa.select(t.c.topic, sa.func.count()).group_by(t.c.topic)).all())
    print_table([{"topic": a.topic, "owner": a.user_name, "public": a.public,
                  "active": a.active, "annotations": counts.get(a.topic, 0),
                  "description": a.description, "url": a.url} for a in found],
                ["topic", "owner", "public", "active", "annotations", "description", "url"])


@click.group("annotations")
def annotations_group() -> None:
    """Annotations: the Kafka path, and what an object has."""


@annotations_group.command("ingest")
@click.option("--topic", default=None, help="Topic to read (default: setting annotations_topic).")
@click.option("--group-id", default=None, help="Consumer group (default: annotations_group_id).")
@click.option("--idle-exit", type=float, default=None, metavar="S",
              help="Stop after S seconds without messages.")
@click.option("--max-messages", type=int, default=None, help="Stop after this many messages.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics on this port (setting metrics_port).")
@pass_ctx
def ingest(ctx: Context, topic: str | None, group_id: str | None, idle_exit: float | None,
           max_messages: int | None, metrics_port: int | None) -> None:
    """Consume annotations from Kafka, store them, run the filters they trigger."""
    from skysift.annotations.kafka import ingest_annotations
    from skysift.cli._common import store
    from skysift.ingest import StopFlag

    if metrics_port:
        from skysift.worker.metrics import serve_metrics

        serve_metrics(ctx.settings.metrics_host, metrics_port)

    totals = ingest_annotations(ctx.settings, engine=store(ctx.settings), topic=topic,
                                group_id=group_id, stop=StopFlag().install(),
                                idle_exit_s=idle_exit, max_messages=max_messages)
    click.echo(totals.summary())


@annotations_group.command("show")
@click.argument("object_id", type=int)
@pass_ctx
def show(ctx: Context, object_id: int) -> None:
    """The live annotations of one object."""
    from skysift.annotations.store import get_annotations
    from skysift.cli._common import print_table, store

    with store(ctx.settings).connect() as conn:
        rows = get_annotations(conn, object_id)
    print_table(rows, ["topic", "classification", "version", "explanation", "classdict", "url",
                       "timestamp"])
