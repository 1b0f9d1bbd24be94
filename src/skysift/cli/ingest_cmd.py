"""``skysift ingest``: alert files, or Kafka topics in a consumer group, through the pipeline."""

from __future__ import annotations

import time

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["ingest"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--from-kafka", "topics", multiple=True, metavar="TOPIC",
              help="Consume this topic (repeatable; a regex such as '^lsst-alerts-.*' works).")
@click.option("--from-archive", "archived", default=None, metavar="NIGHTS",
              help="Rebuild the store from the alert archive: nights YYYY-MM-DD, A..B ranges, "
                   "commas. No filter runs unless --produce.")
@click.option("--produce", is_flag=True,
              help="With --from-archive: run the active filters too; their records carry the "
                   "header reason=replay.")
@click.option("--group-id", default=None, help="Consumer group (default: ingest_group_id).")
@click.option("--schema-registry", default=None, metavar="URL",
              help="Confluent schema registry for the Avro schemas (default: lsst-alert-packet).")
@click.option("--idle-exit", type=float, default=None, metavar="S",
              help="With --from-kafka: stop after S seconds without messages.")
@click.option("--max-alerts", type=int, default=None, help="With --from-kafka: stop after N.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="With --from-kafka: serve Prometheus metrics on this port (metrics_port).")
@pass_ctx
def ingest(ctx: Context, paths: tuple[str, ...], topics: tuple[str, ...], archived: str | None,
           produce: bool, group_id: str | None,
           schema_registry: str | None, idle_exit: float | None, max_alerts: int | None,
           no_progress: bool, metrics_port: int | None) -> None:
    """Run alert FILES/DIRS, --from-kafka TOPIC or --from-archive NIGHTS through the pipeline.

    Bad alerts never stop it: each is kept with the reason (the folder dead-letter/ in the data
    directory for files, TOPIC.dlq for messages); a database or broker that is away is waited
    for, and said once."""
    from skysift.ingest import StopFlag, ingest_archive, ingest_files, ingest_kafka

    settings = ctx.with_overrides(schema_registry=schema_registry, metrics_port=metrics_port)
    if sum(map(bool, (paths, topics, archived))) != 1:
        raise click.UsageError("give alert FILES/DIRS, --from-kafka TOPIC or --from-archive "
                               "NIGHTS (one of them)")
    if archived:
        from skysift.archive import parse_nights

        totals = ingest_archive(settings, parse_nights(archived), progress=not no_progress,
                                produce=produce)
    elif topics:
        from skysift.processes import tune_gc_for_batches

        tune_gc_for_batches()
        stop = StopFlag().install()
        if settings.metrics_port:
            from skysift.worker.metrics import serve_metrics

            serve_metrics(settings.metrics_host, settings.metrics_port)
            click.echo(f"Prometheus metrics at http://{settings.metrics_host}:"
                       f"{settings.metrics_port}/metrics", err=True)
        click.echo(f"consuming {', '.join(topics)} as group "
                   f"{group_id or settings.ingest_group_id}; Ctrl-C to stop", err=True)

        last = [time.perf_counter()]

        def show(report, totals) -> None:
            now = time.perf_counter()
            stages = ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items())
            click.echo(f"batch: {report.alerts} alerts, {report.records_produced} records "
                       f"({stages} s; {now - last[0]:.2f} s since the last batch line); "
                       f"total {totals.summary()}", err=True)
            last[0] = now

        totals = ingest_kafka(settings, list(topics), group_id=group_id, stop=stop,
                              idle_exit_s=idle_exit, max_alerts=max_alerts, on_batch=show)
    else:
        totals = ingest_files(settings, paths, progress=not no_progress)
    for topic, n in sorted(totals.per_topic.items()):
        click.echo(f"  {topic}: {n} records")
    for name, err in sorted(totals.filter_errors.items()):
        click.echo(f"  filter {name} failed: {err}", err=True)
    click.echo(totals.summary())
