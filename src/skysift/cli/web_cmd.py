"""``skysift serve`` (web site + API + ingest, one process) and ``skysift web`` (the site alone).

``serve`` is the small deployment: on embedded defaults it starts the data directory's Kafka
broker when none is given (as ``skysift demo`` does), ingests ``input_topic`` in a background
thread, and serves the site and API with uvicorn in the main thread; Ctrl-C stops all of it.
A larger deployment runs ``skysift web`` and ``skysift ingest --from-kafka ...`` separately.
"""

from __future__ import annotations

import logging

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["serve", "web"]

log = logging.getLogger(__name__)

_host = click.option("--host", default=None, metavar="ADDRESS",
                     help="Address to listen on (setting web_host; default 127.0.0.1).")
_port = click.option("--port", type=click.IntRange(1, 65535), default=None,
                     help="Port to listen on (setting web_port; default 8000).")
_metrics_port = click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
                             help="Serve Prometheus metrics on this port (setting metrics_port).")


def uvicorn_config(app, settings):
    """uvicorn's configuration for ``app``: proxy headers believed only from the proxies in
    ``forwarded_allow_ips`` (none by default), no Server header."""
    import uvicorn

    trusted = settings.forwarded_allow_ips
    level = "debug" if settings.debug else settings.log_level.lower()
    return uvicorn.Config(app, host=settings.web_host, port=settings.web_port,
                          log_config=None, log_level=level,
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted or "",
                          server_header=False)


def _run_uvicorn(app, settings) -> None:
    """Serve ``app`` until Ctrl-C/SIGTERM (uvicorn handles the signals)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, settings)).run()


@click.command()
@_host
@_port
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web site and REST API (no ingest: run `skysift ingest` for that)."""
    from skysift.cli._common import store
    from skysift.web.app import create_app

    settings = ctx.with_overrides(web_host=host, web_port=port)
    app = create_app(settings, store(settings))
    click.echo(f"skysift web site and API at http://{settings.web_host}:{settings.web_port}/",
               err=True)
    _run_uvicorn(app, settings)


@click.command()
@_host
@_port
@click.option("--input-topic", default=None, help="Topic to ingest (setting input_topic).")
@_metrics_port
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, input_topic: str | None,
          metrics_port: int | None) -> None:
    """Run the web site, the API and the ingest pipeline together (one small deployment)."""
    from skysift.cli._common import store
    from skysift.ingest import ingest_kafka
    from skysift.streams import embedded
    from skysift.streams.kafka import admin
    from skysift.streams.topics import create_topic
    from skysift.web.app import create_app
    from skysift.worker.metrics import serve_metrics
    from skysift.worker.supervise import Supervisor

    settings = ctx.with_overrides(web_host=host, web_port=port, input_topic=input_topic,
                                  metrics_port=metrics_port)
    started_here = False
    if not settings.kafka and not settings.kafka_config.get("bootstrap.servers"):
        running = embedded.find_running(settings.data_dir)
        if running is None:
            info = embedded.up(settings.data_dir, settings.embedded_kafka_port)
            started_here = True
            click.echo(f"started the embedded Kafka broker at {info.bootstrap}", err=True)
        else:
            click.echo(f"using the embedded Kafka broker at {running.bootstrap}", err=True)
    engine = store(settings)
    create_topic(admin(settings), settings, settings.input_topic)

    def ingest(stop, state) -> None:
        totals = ingest_kafka(settings, [settings.input_topic], stop=stop, engine=engine,
                              state=state)
        log.info("ingest stopped: %s", totals.summary())

    from skysift.processes import tune_gc_for_batches

    tune_gc_for_batches()
    # the loop waits out a database or broker outage by itself; the supervisor starts it
    # again if it ever ends with an error nobody foresaw
    worker = Supervisor("alerts", ingest).start()
    if settings.metrics_port:
        serve_metrics(settings.metrics_host, settings.metrics_port)
        click.echo(f"Prometheus metrics at http://{settings.metrics_host}:"
                   f"{settings.metrics_port}/metrics", err=True)
    click.echo("emails: " + (f"SMTP {settings.smtp_host}" if settings.smtp_host else
                             f"no SMTP configured, .eml files in {settings.maildir / 'new'}")
               + (f", checked every {settings.notify_interval_s:g} s" if settings.notify_interval_s
                  else " (notify_interval_s = 0: run `skysift notify run` from cron)"), err=True)
    click.echo(f"ingesting {settings.input_topic}; web site and API at "
               f"http://{settings.web_host}:{settings.web_port}/ (Ctrl-C stops)", err=True)
    app = create_app(settings, engine)
    app.state.workers = [worker.state]
    try:
        _run_uvicorn(app, settings)
    finally:
        worker.stop(timeout=settings.batch_wait_s + 30)
        if started_here:
            embedded.down(settings.data_dir)
            click.echo("stopped the embedded broker", err=True)
