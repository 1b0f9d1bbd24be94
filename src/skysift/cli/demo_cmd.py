"""``skysift demo``: the whole loop on embedded defaults, with real Rubin alerts.

Starts the embedded broker, creates a demo user and four filters (plain, lite, full, and a
kilonova filter joining gw_hits), replays the bundled sample of real LSSTCam alerts into the input
topic with a progress bar, ingests them, then registers a mock gravitational-wave event whose sky
map (made for the demo) covers some of those alerts: the kilonova filter receives the candidates
detected after the event the moment the map arrives (Kafka header ``reason=skymap``). Prints what
each topic received and how to consume it. Keeps ingesting until Ctrl-C; ``--once`` exits when the
replay is processed (the broker is left running so the topics can be read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from skysift.cli.context import Context, pass_ctx

if TYPE_CHECKING:
    from skysift.bridge import BridgeReport

__all__ = ["DEMO_FILTERS", "DEMO_USER", "demo"]

DEMO_USER = "demo"
DEMO_FILTERS = [
    {"name": "bright_detections", "output": "plain",
     "description": "Objects whose latest detection is brighter than 3000 nJy (~22.7 mag)",
     "sql": "SELECT objects.diaObjectId, objects.ra, objects.decl, "
            "flux2mag(objects.latest_psfFlux) AS mag FROM objects "
            "WHERE objects.latest_psfFlux > 3000"},
    {"name": "reliable_lightcurves", "output": "lite",
     "description": "Objects whose latest detection has reliability above 0.5, with light curve",
     "sql": "SELECT objects.diaObjectId, objects.ra, objects.decl, objects.latestR "
            "FROM objects WHERE objects.latestR > 0.5"},
    {"name": "new_i_band_full", "output": "full",
     "description": "New objects (at most 2 detections) seen in the i band, full alert",
     "sql": "SELECT objects.diaObjectId, objects.ra, objects.decl, objects.nDiaSources "
            "FROM objects WHERE objects.niSources >= 1 AND objects.nDiaSources <= 2"},
    {"name": "kilonova_candidates", "output": "plain",
     "description": "Inside the 90% region of a live gravitational-wave event with a neutron star",
     "sql": "SELECT objects.diaObjectId, objects.ra, objects.decl, gw_hits.superevent_id, "
            "gw_hits.contour, gw_hits.t_gw FROM objects, gw_hits, gw_events "
            "WHERE gw_hits.contour < 0.9 AND gw_events.HasNS > 0.5"},
]
#: The demo's mock event: a binary neutron star merger half a day before the sample night,
#: its map a Fisher distribution of width 0.25 deg centred among the sample alerts.
DEMO_EVENT: dict[str, Any] = {"superevent_id": "MS250905a", "ra": 10.2, "dec": -45.1,
                              "sigma_deg": 0.25, "days_before": 0.5}


def sample_alerts_dir():
    from importlib.resources import files

    return files("skysift") / "data" / "sample_alerts"


def demo_notice(first_mjd_tai: float) -> bytes:
    """The demo's mock LVK notice (PRELIMINARY, with its sky map) for a night starting at
    ``first_mjd_tai``."""
    from datetime import UTC, timedelta

    from astropy.time import Time

    from skysift.skymaps.mock import gaussian_skymap, mock_notice

    ev = DEMO_EVENT
    when = Time(first_mjd_tai - ev["days_before"], format="mjd", scale="tai").utc.to_datetime(
        timezone=UTC
    )
    skymap = gaussian_skymap(ev["ra"], ev["dec"], ev["sigma_deg"], distance_mpc=(40.0, 8.0),
                             object_name=ev["superevent_id"])
    return mock_notice(ev["superevent_id"], when, skymap, alert_type="PRELIMINARY",
                       time_created=when + timedelta(minutes=1))


def _register_demo_event(engine, settings, sample: str) -> tuple[BridgeReport, str]:
    """Write the demo notice beside the data and register it; (bridge report, notice path)."""
    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.bridge import register_notices
    from skysift.skymaps.notice import decode_notice

    times = [a.diaSource["midpointMjdTai"] for p in iter_alert_files([sample])
             for a in read_alerts(p) if not isinstance(a, Exception)]
    raw = demo_notice(min(times))
    path = settings.data_dir / f"{DEMO_EVENT['superevent_id']}-preliminary.json"
    path.write_bytes(raw)
    return register_notices(engine, settings, [decode_notice(raw, path=str(path))]), str(path)


def _ensure_filters(engine, settings):
    from skysift.accounts import add_user, get_user
    from skysift.errors import UserError
    from skysift.filters.manage import add_filter, edit_filter, get_filter
    from skysift.errors import FilterError

    with engine.begin() as conn:
        try:
            user = get_user(conn, DEMO_USER)
            token = None
        except UserError:
            user, token = add_user(conn, DEMO_USER, "demo@example.org")
    flts = []
    for spec in DEMO_FILTERS:
        try:
            with engine.connect() as conn:
                existing = get_filter(conn, spec["name"], user)
            # same definition, fresh topic (the in-memory broker may have been restarted)
            flt = edit_filter(engine, settings, existing, sql=spec["sql"], output=spec["output"],
                              trigger="alert", description=spec["description"], public=True)
        except FilterError:
            # public: a new user who signs up sees the demo's filters and topics
            flt = add_filter(engine, settings, user, name=spec["name"], sql=spec["sql"],
                             description=spec["description"], trigger="alert",
                             output=spec["output"], public=True)
        flts.append(flt)
    return user, token, flts


@click.command()
@click.option("--once", is_flag=True, help="Exit when the replay has been processed.")
@click.option("--rate", type=float, default=None, metavar="N",
              help="Replay at most N alerts/s (default: as fast as possible).")
@click.option("--input-topic", default=None, help="Input topic (default: input_topic setting).")
@pass_ctx
def demo(ctx: Context, once: bool, rate: float | None, input_topic: str | None) -> None:
    """Run the whole loop on embedded defaults with bundled real Rubin alerts."""
    from skysift.alerts.files import iter_alert_files
    from skysift.alerts.publish import publish_files
    from skysift.cli._common import store
    from skysift.ingest import StopFlag, ingest_kafka
    from skysift.streams import embedded
    from skysift.streams.kafka import make_producer

    settings = ctx.settings
    started_here = False
    if not settings.kafka:
        running = embedded.find_running(settings.data_dir)
        if running is None:
            info = embedded.up(settings.data_dir, settings.embedded_kafka_port)
            started_here = True
            click.echo(f"started the embedded Kafka broker at {info.bootstrap} "
                       f"(in memory; `skysift kafka down` stops it)")
        else:
            click.echo(f"using the embedded Kafka broker at {running.bootstrap}")
    from skysift.streams.kafka import bootstrap_servers

    bootstrap = bootstrap_servers(settings)
    engine = store(settings)
    click.echo(f"store: {settings.redacted()['database'] or settings.database_url}")
    click.echo(
        "emails (digests of email filters): "
        + (
            f"SMTP {settings.smtp_host}"
            if settings.smtp_host
            else f"no SMTP configured, written as .eml files into {settings.maildir / 'new'}"
        )
    )
    user, token, flts = _ensure_filters(engine, settings)
    click.echo(f"demo user: {user.name} (id {user.id})"
               + (f", API token {token}" if token else
                  f"; its API token was printed by the first demo: `.venv/bin/skysift "
                  f"--data-dir {settings.data_dir} user token {user.name}` makes a new one"))
    for f in flts:
        click.echo(f"  filter {f.name:22s} output={f.output:5s} topic={f.topic}")

    topic = input_topic or settings.input_topic
    sample = str(sample_alerts_dir())
    n_files = len(list(iter_alert_files([sample])))
    click.echo(f"replaying {n_files} bundled Rubin alerts (schema 9.0) into {topic}")
    from skysift.streams.kafka import admin
    from skysift.streams.topics import create_topic

    create_topic(admin(settings), settings, topic)
    producer = make_producer(settings)
    published = publish_files(producer, topic, [sample], rate=rate, progress=True)
    # the group every command that ingests the input topic uses (serve, ingest --from-kafka): what
    # the demo ingested is not ingested again by them, and a rerun reads only its own replay
    group = settings.ingest_group_id
    stop = StopFlag().install()
    from skysift.processes import tune_gc_for_batches

    tune_gc_for_batches()
    totals = ingest_kafka(settings, [topic], group_id=group, stop=stop, max_alerts=published,
                          idle_exit_s=60.0, engine=engine)
    click.echo("")
    click.echo(totals.summary())
    report, notice_path = _register_demo_event(engine, settings, sample)
    change = report.changes[0]
    skymap_records = report.trigger.per_topic if report.trigger is not None else {}
    click.echo(f"gravitational-wave event {change.superevent_id} (a mock BNS merger half a day "
               f"before the night, {notice_path}): {change.action}, {change.hits} stored "
               f"objects inside its map's 95% region")
    click.echo("records produced by this replay and by the GW map (each topic also holds up to "
               "10 seeded records):")
    for f in flts:
        extra = skymap_records.get(f.topic, 0)
        click.echo(f"  {f.topic}: {totals.per_topic.get(f.topic, 0)}"
                   + (f" + {extra} when the map arrived (reason=skymap)" if extra else ""))
    click.echo("")
    click.echo("consume a topic from the command line:")
    for f in flts:
        click.echo(f"  .venv/bin/skysift --data-dir {settings.data_dir} consume "
                   f"--topic {f.topic} --group-id mygroup --timeout 10")
    click.echo("")
    click.echo("or in Python (pip install lasair confluent_kafka):")
    from skysift.streams.snippets import python_consumer

    click.echo(python_consumer(bootstrap, flts[1].topic))
    if once:
        click.echo("the embedded broker keeps running; stop it with "
                   f"`.venv/bin/skysift --data-dir {settings.data_dir} kafka down`")
        return
    click.echo(f"ingesting new alerts from {topic} until Ctrl-C "
               f"(publish more with `skysift alerts publish FILES --topic {topic}`)")
    try:
        ingest_kafka(settings, [topic], group_id=group, stop=stop, engine=engine)
    finally:
        if started_here:
            embedded.down(settings.data_dir)
            click.echo("stopped the embedded broker")
