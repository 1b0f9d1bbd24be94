"""The declaration of every setting: the fields of :class:`Settings`, each made by
:func:`setting` (type, default, help text, secret or not, allowed values).

:mod:`skysift.config` builds the registry from these fields and loads the values (defaults <
config file < ``SKYSIFT_*`` environment < flags); import :class:`Settings` from there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from skysift.redaction import SecretKind, redact, redacted_repr, secret_of

__all__ = ["LOG_LEVELS", "Settings", "setting"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setting(default: Any, help: str, *, secret: SecretKind | None = None,
            default_text: str | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """Declare one field of :class:`Settings` (a :func:`dataclasses.field` with the metadata
    the registry, the redaction and the documentation read).

    Parameters
    ----------
    default
        The built-in default (a dict or list is copied for each :class:`Settings`).
    help
        What it does, for docs/configuration.md (markdown, one paragraph).
    secret
        How the value is secret (:data:`SecretKind`), or None.
    default_text
        How the docs show the default when the value alone does not say what it means
        (``None`` is shown as ``(none)``).
    choices
        The only values allowed (checked by :func:`load_settings`).
    """
    metadata = {"help": help, "secret": secret, "default_text": default_text, "choices": choices}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, repr=False)
class Settings:
    """All of skysift's settings. See docs/configuration.md for each one.

    ``repr`` and ``str`` mask the secrets, as :meth:`redacted` does.
    """

    # where things live
    data_dir: Path = setting(  # noqa: RUF009 - setting() is a dataclasses.field()
        Path("skysift-data"),
        ("The data directory: the SQLite store (`skysift.db`), the embedded broker's "
         "pid/info/log files, the dead-letter folder, the config file. Flag `--data-dir`."),
    )
    database: str | None = setting(
        None,
        ("SQLAlchemy URL of the store, e.g. `postgresql://user@host/db`. Flag `--database`. The"
         " same code runs on SQLite and PostgreSQL; migrations run automatically."),
        default_text="(none: SQLite file `skysift.db` in the data directory)",
        secret="url",
    )
    # Kafka
    kafka: str | None = setting(
        None,
        "Kafka bootstrap servers `HOST:PORT[,HOST:PORT]`. Flag `--kafka`.",
        default_text="(none: the embedded broker of the data directory)",
    )
    kafka_config: dict[str, Any] = setting(  # noqa: RUF009 - a field(default_factory=...)
        {},
        ("librdkafka settings passed through to every producer, consumer and admin client "
         "(SASL, TLS, timeouts...). skysift's own defaults are applied only where you set "
         "nothing."),
        secret="keys",
    )
    schema_registry: str | None = setting(
        None,
        ("URL of a Confluent schema registry to fetch alert schemas from. Flag "
         "`--schema-registry` on `ingest`."),
        default_text="(none: schemas from lsst-alert-packet by id)",
        secret="url",
    )
    input_topic: str = setting(
        "lsst-alerts",
        "The topic alerts arrive on, used by the demo and as the default of `alerts publish`.",
    )
    ingest_group_id: str = setting(
        "skysift-ingest",
        ("Consumer group of `skysift ingest --from-kafka`; every worker of one deployment uses "
         "the same group to share the partitions. Flag `--group-id`."),
    )
    annotations_topic: str = setting(
        "skysift-annotations",
        ("The internal Kafka topic of high-volume annotators, read by `skysift annotations "
         "ingest`; messages that cannot be applied go to `<topic>.dlq`. See annotations.md."),
    )
    annotations_group_id: str = setting(
        "skysift-annotations",
        "Consumer group of `skysift annotations ingest`.",
    )
    consumer_session_timeout_ms: int = setting(
        6000,
        ("`session.timeout.ms` of skysift's own consumers (low, so a consumer joins quickly; "
         "see operations.md)."),
    )
    # batches
    batch_size: int = setting(
        1000,
        ("Most alerts in one pipeline batch (one store transaction, one run of every active "
         "filter). The ingest consumer prefetches the next batch meanwhile: up to batch_size x "
         "256 KB (librdkafka `queued.max.messages.kbytes`; set it in `kafka_config` to bound "
         "memory otherwise). Peak memory of a worker at 1,000 is ~650 MB (see architecture.md)."),
    )
    batch_wait_s: float = setting(
        1.0,
        ("Longest wait for the first alert of a batch. A batch then takes every alert already "
         "received, up to batch_size, and closes: it is processed when the worker is free, not "
         "after a fixed wait (p99 latency at Rubin's rate in architecture.md)."),
    )
    # the failure policy of the batch loops (skysift.worker.policy)
    batch_max_attempts: int = setting(
        3,
        ("How many times a batch that fails by its content (not because the store or broker is "
         "away) is tried before it is split in halves to find the alert that fails alone, which"
         ' is then dead-lettered (operations.md, "When things fail"). Transient errors (the '
         "store or broker away) are waited out instead, however long they last."),
    )
    retry_backoff_max_s: float = setting(
        30.0,
        ("Longest pause between tries of a batch while the store or the broker is away; pauses "
         "double from 1 s up to it. The worker keeps its consumer in its group meanwhile."),
    )
    # Prometheus metrics of the ingest workers (skysift.worker.metrics); 0 = not served
    metrics_port: int = setting(
        0,
        ("Port of the Prometheus metrics of `skysift ingest --from-kafka`, `skysift annotations"
         " ingest` and `skysift serve` (operations.md lists them). Flag `--metrics-port`."),
        default_text="`0` (not served)",
    )
    metrics_host: str = setting(
        "127.0.0.1",
        "Address the metrics are served on; `0.0.0.0` for a Prometheus on another machine.",
    )
    # filters
    filter_timeout_s: float = setting(
        10.0,
        ("Deadline of one active filter over one batch. A filter past it is recorded as failed "
         "for that batch; the others go on."),
    )
    filter_row_cap: int = setting(
        1000,
        "Most rows one active filter may produce per batch (Lasair's cap).",
    )
    run_timeout_s: float = setting(
        30.0,
        ("Deadline of an on-demand run over the whole store (`skysift filter run`, topic "
         "seeding)."),
    )
    run_row_limit: int = setting(
        1000,
        "Default row limit of an on-demand run.",
    )
    # output topics
    topic_retention_ms: int = setting(
        7 * 24 * 3600 * 1000,
        "`retention.ms` of output topics created by skysift.",
        default_text="`604800000` (7 days)",
    )
    topic_max_message_bytes: int = setting(
        10 * 1024 * 1024,
        ("`max.message.bytes` of output topics; larger records are counted as rejected, not "
         "sent."),
        default_text="`10485760` (10 MiB)",
    )
    topic_partitions: int = setting(
        1,
        "Partitions of each output topic.",
    )
    daily_byte_quota: int = setting(
        100_000_000,
        ("Default bytes one filter may produce per UTC day; records over it are counted as "
         "rejected. Per filter with `--quota` (`-1` = unlimited)."),
        default_text="`100000000` (100 MB)",
    )
    seed_records: int = setting(
        10,
        "Records put into a filter's topic when it is created or edited.",
    )
    # the embedded broker
    embedded_kafka_port: int = setting(
        0,
        "Port of the embedded broker started by `skysift kafka up` and `skysift demo`.",
        default_text="`0` (a free port)",
    )
    # logging
    debug: bool = setting(
        False,
        "Tracebacks on errors and debug logs. Flag `--debug`.",
    )
    log_level: str = setting(
        "INFO",
        ("Level of the log of every command, worker and web process when not `debug`: `DEBUG`, "
         "`INFO`, `WARNING`, `ERROR` or `CRITICAL` (any case). The chatty libraries (SQLAlchemy, "
         "alembic, httpx...) log warnings and worse only, unless `debug`."),
        choices=LOG_LEVELS,
    )
    # the REST API (skysift.web.api)
    api_rate_limit: int = setting(
        100,
        ("REST API calls one user may make per `api_rate_window_s` (Lasair's default: 100 an "
         "hour); past it the API answers 429. `0` or less = no limit. Counted in memory per web"
         " process: with N processes behind a load balancer a user gets up to N times this."),
    )
    api_power_rate_limit: int = setting(
        10_000,
        "The same for power users (`users.is_power`), Lasair's `powerapi` class.",
    )
    api_rate_window_s: float = setting(
        3600.0,
        "The sliding window of the API rate limits, in seconds.",
        default_text="`3600.0` (an hour)",
    )
    api_query_timeout_s: float = setting(
        30.0,
        ("Deadline of one `/api/query/` call (read-only, on the whole store); past it the call "
         "answers 400."),
    )
    api_query_row_cap: int = setting(
        10_000,
        ("Most rows one `/api/query/` call returns to a normal user, whatever its `limit` "
         "(Lasair's cap)."),
    )
    api_power_query_row_cap: int = setting(
        1_000_000,
        "The same for power users (Lasair's `powerapi` cap).",
    )
    filter_save_rate_limit: int = setting(
        60,
        ("Filter saves (create or edit, site and API) and replays per user per "
         "`api_rate_window_s`; more answer 429. `<= 0` = no limit."),
    )
    filter_run_rate_limit: int = setting(
        120,
        ("Runs of filter SQL over the store per user per `api_rate_window_s` (the editor's Run,"
         " `?run=1`), and backtests; more answer 429."),
    )
    anonymous_run_rate_limit: int = setting(
        20,
        ("Runs of a public filter (`/filters/<id>?run=1`) by a visitor who is not logged in, "
         "per client address per `api_rate_window_s`."),
    )
    login_failure_limit: int = setting(
        10,
        ("Failed log-ins (the site's form and `/api/auth-token/`) allowed per account per "
         "`login_window_s`, and five times as many per client address. Past it, log-ins for "
         "that account (even with the right password) or from that address answer 429 until the"
         " window has passed."),
    )
    login_window_s: float = setting(
        900.0,
        "The window of `login_failure_limit`, in seconds.",
    )
    # the web site
    web_host: str = setting(
        "127.0.0.1",
        ("Address the web site and API listen on (`skysift serve`, `skysift web`). Flag "
         "`--host`."),
    )
    web_port: int = setting(
        8000,
        "Port the web site and API listen on. Flag `--port`.",
    )
    forwarded_allow_ips: str | None = setting(
        None,
        ("Addresses of reverse proxies (comma-separated, or `*`) whose `X-Forwarded-For` / "
         "`X-Forwarded-Proto` headers are believed. Without it a client's address is the "
         "connection's, so nobody can choose their own address to get round the per-address "
         "limits. Behind nginx on the same machine: `127.0.0.1`."),
        default_text="(none: no proxy is trusted)",
    )
    session_cookie_secure: bool = setting(
        False,
        ("Mark the session cookie `Secure` (sent over HTTPS only). Set it when the site is "
         'served over TLS (operations.md, "A public deployment").'),
    )
    private_topics_protected: bool = setting(
        False,
        ("Set it to `true` only when your Kafka enforces read ACLs on the `lasair_*` topics, so"
         " that a private filter's topic can be read by its owner alone (operations.md, \"A "
         "public deployment\"). While it is `false`, each private filter's page says plainly "
         "that anyone who can reach the broker can read its topic."),
    )
    public_kafka: str | None = setting(
        None,
        ("Kafka bootstrap `HOST:PORT` shown to users in the consumer examples of the filter "
         "pages, when readers reach the broker by another name than skysift does."),
        default_text="(none: the bootstrap servers skysift itself uses)",
    )
    session_key_file: str | None = setting(
        None,
        ("File holding the key that signs session cookies. Made on first run with 32 random "
         "bytes, mode 0600; delete it to log everyone out. Share it between web processes "
         "behind one address."),
        default_text="(none: `session.key` in the data directory)",
    )
    session_max_age_s: int = setting(
        14 * 24 * 3600,
        "How long a login lasts (lifetime of the signed session cookie).",
        default_text="`1209600` (14 days)",
    )
    # email: digests, failure notices, expiry warnings (skysift.notify, docs/email.md)
    smtp_host: str | None = setting(
        None,
        "SMTP server that sends digests, failure notices and expiry warnings (see email.md).",
        default_text=("(none: emails are written as `.eml` files into `maildir/` in the data "
                      "directory)"),
    )
    smtp_port: int = setting(
        0,
        "Port of the SMTP server.",
        default_text="`0` (465 for `ssl`, 587 for `starttls`, 25 for `none`)",
    )
    smtp_security: str = setting(
        "starttls",
        ("`starttls` (plain connection upgraded with STARTTLS), `ssl` (TLS from the start, "
         '"SMTPS") or `none`.'),
        choices=("none", "starttls", "ssl"),
    )
    smtp_user: str | None = setting(
        None,
        "SMTP login name.",
        default_text="(none: no login)",
    )
    smtp_password: str | None = setting(
        None,
        "SMTP password. Prefer `SKYSIFT_SMTP_PASSWORD` to the config file.",
        secret="value",
    )
    smtp_timeout_s: float = setting(
        30.0,
        "Timeout of one SMTP connection.",
    )
    email_from: str = setting(
        "skysift@localhost",
        "The `From:` address of every email skysift sends.",
    )
    public_url: str | None = setting(
        None,
        ("Base URL of the web site as users reach it; emails link each object to "
         "`<public_url>/objects/<id>`."),
        default_text="(none: `http://<web_host>:<web_port>`)",
        secret="url",
    )
    email_min_interval_s: float = setting(
        24 * 3600.0,
        ("At most one digest per email filter, and one run-failure notice per failing filter, "
         "in this time (Lasair's 24-hour throttle)."),
        default_text="`86400.0` (24 hours)",
    )
    email_max_records: int = setting(
        10_000,
        ("Most matches one email filter keeps for its next digest; more are counted as "
         "rejected."),
    )
    notify_interval_s: float = setting(
        60.0,
        ("How often `skysift ingest` and `skysift serve` check for due digests, failure notices"
         " and expiries (`skysift notify run` does it once). `0` = never: run `skysift notify "
         "run` from cron instead."),
    )
    filter_expiry_days: int = setting(
        180,
        ("An active filter is deactivated (trigger `none`) this many days after it was last "
         "saved active; the owner is told. `0` = never."),
    )
    filter_expiry_warning_days: int = setting(
        28,
        "The owner of an active filter is warned by email this many days before it expires.",
    )
    # the TNS catalogue loaded by `skysift tns load` (skysift.context.tns): match radius
    tns_radius_arcsec: float = setting(
        1.5,
        ("An object's `tns_name` is the nearest object of the TNS catalogue (loaded by `skysift"
         " tns load FILE`) within this radius."),
    )
    # the SFD dust map for objects.ebv (skysift.features.dust): a folder with the NGP/SGP pair or
    # a HEALPix file; None = ebv is NULL
    sfd_dust_map: str | None = setting(
        None,
        ("The Schlegel, Finkbeiner & Davis (1998) dust map behind `objects.ebv`: a folder "
         "holding `SFD_dust_4096_ngp.fits` and `SFD_dust_4096_sgp.fits` (the ZEA pair "
         "`dustmaps` downloads; values interpolated bilinearly, as `dustmaps.sfd.SFDQuery` "
         "does), or one HEALPix FITS file in galactic coordinates (LAMBDA's "
         "`lambda_sfd_ebv.fits`). None: `ebv` is NULL. A path that is not such a map stops "
         "`skysift ingest` at start with the reason."),
    )
    # the Bazin-blackbody light-curve fit (skysift.features.bbb): on/off, seconds per batch at
    # most, warm start
    bbb_fit: bool = setting(
        True,
        ("Fit every object with at least 5 diaSources with Lasair's Bazin-blackbody model when "
         "its light curve changes (the `BBB*` columns of [filters.md](filters.md)). `false`: "
         "those columns stay NULL and ingest is cheaper (see docs/architecture.md for the "
         "measured cost)."),
    )
    bbb_fit_budget_s: float = setting(
        5.0,
        ("Most seconds the Bazin-blackbody fit may take for one batch. Objects still being "
         "fitted then get NULL `BBB*` columns until their next alert, and a warning in the log "
         "says how many. Normal batches take a small fraction of this (see `make bench`)."),
    )
    bbb_warm_start: bool = setting(
        False,
        ("Start each object's Bazin-blackbody fit from its stored fit rather than from guesses "
         "made from its light curve (a model whose warm start fails its checks is fitted again "
         "from the guesses). `make bench` (`benchmarks/bench_features.py`) measures it: 2.0-2.3x "
         "faster for a curve that gained one point, 1.24x over curves grown from 5 to 30 points; "
         "but the `BBB*` columns then depend on the fits before, not only on the light curve: "
         "over those grown curves 2 of 1,533 fits ended of another kind (Bazin, Exp or none) and "
         "31 rise rates more than 1% apart, where the data barely constrain them. A backtest or "
         "a second worker may then differ from live ingest in these columns. Off by default for "
         "that reason."),
    )
    # image cutouts (skysift.store.cutouts): kept in <data_dir>/cutouts when true (~110 KB/alert)
    keep_cutouts: bool = setting(
        False,
        ("Keep each alert's image cutouts (science, template, difference; Rubin's FITS stamps, "
         "about 110 KB per alert) in `<data_dir>/cutouts/`; the object page shows the newest "
         "three. Off by default: a night of a million alerts is about 100 GB."),
    )
    cutouts_url: str | None = setting(
        None,
        ("Where kept cutouts go: a folder, or `s3://BUCKET[/PREFIX]` for an S3-compatible "
         "bucket (AWS S3, MinIO, Ceph RGW; needs `pip install 'skysift[s3]'`). None: "
         "`<data_dir>/cutouts/`. Keys are `<diaObjectId % "
         "1000>/<diaObjectId>/<diaSourceId>-<science\\|template\\|difference>.fits`, the FITS "
         "stamps as sent. The bucket must exist: a worker that cannot use it logs why and goes "
         "on ingesting without cutouts."),
        secret="url",
    )
    # S3-compatible object stores (skysift.store.blobs): AWS, MinIO, Ceph RGW, ...
    s3_endpoint_url: str | None = setting(
        None,
        ("The S3 service's URL for anything but AWS (e.g. `http://minio.local:9000`). None: AWS"
         " S3."),
        secret="url",
    )
    s3_region: str | None = setting(
        None,
        ("The bucket's region. None: `us-east-1` (what MinIO and most S3-compatible services "
         "expect)."),
    )
    s3_access_key_id: str | None = setting(
        None,
        ("The S3 access key id. None: boto3's own chain (the `AWS_ACCESS_KEY_ID` variable, "
         "`~/.aws/credentials`, an instance role)."),
    )
    s3_secret_access_key: str | None = setting(
        None,
        ("The S3 secret key, with `s3_access_key_id`. Give it as `SKYSIFT_S3_SECRET_ACCESS_KEY`"
         " rather than in a file."),
        secret="value",
    )
    s3_max_workers: int = setting(
        16,
        ("Parallel uploads when a batch's cutouts go to S3 (each PUT is a round trip; a "
         "1,000-alert batch is 3,000 of them)."),
    )
    # the alert archive (skysift.archive): every ingested alert as received, by night
    archive_url: str | None = setting(
        None,
        ("Where the alert archive lives: a folder, or `s3://BUCKET[/PREFIX]` (S3 settings "
         "below; segments are written in `<data_dir>/archive-spool/` and uploaded when closed). "
         "None: `<data_dir>/archive/`. One folder per observing night (`night=YYYY-MM-DD`, "
         "Rubin's dayObs), Avro container files of the alerts as received, zstandard-compressed"
         " (docs/archive.md)."),
        default_text="(none: `<data_dir>/archive/`)",
        secret="url",
    )
    archive_nights: int = setting(
        30,
        ("How many observing nights the archive keeps: the newest this many nights it holds "
         "(older nights are deleted when a new night starts and by `skysift archive prune`). "
         "0 keeps nothing: no archive is written."),
    )
    archive_keep_cutouts: bool = setting(
        False,
        ("Keep the image cutouts in the archived alerts (about 110 KB per alert more); by "
         "default each cutout field is archived as null, the rest of the alert byte for byte."),
    )
    archive_segment_mb: int = setting(
        256,
        ("A worker's archive file of one night is closed and a new one started when it passes "
         "this many MB (compressed). Closed files are what goes to an S3 archive."),
    )
    max_match_fraction: float = setting(
        0.05,
        ("A filter saved active is flagged (with the numbers) when its backtest over the newest "
         "archived night matches more than this fraction of that night's alerts, or would exceed"
         " its daily byte quota (docs/archive.md)."),
    )
    # context (skysift.context): gravitational-wave events in filters
    gw_max_contour: float = setting(
        0.95,
        ("An object hits a gravitational-wave event (a row of `gw_hits`) where its position's "
         "credible level in the event's latest sky map is at most this (0-1; docs/context.md)."),
    )
    gw_active_days: float = setting(
        21.0,
        ("An event is live for detections up to this many days after it (and from one day "
         "before): only objects whose latest detection falls in that window are scored against "
         "its map, so a replayed night meets the events it met live."),
        default_text="`21`",
    )

    # ------------------------------------------------------------------ derived values
    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the store (the SQLite file in the data directory by default)."""
        if self.database:
            return self.database
        return f"sqlite:///{(self.data_dir / 'skysift.db').resolve()}"

    @property
    def dead_letter_dir(self) -> Path:
        """Where rejected alert files and notices are kept for inspection."""
        return self.data_dir / "dead-letter"

    @property
    def maildir(self) -> Path:
        """Where emails are written as .eml files when no SMTP server is configured."""
        return self.data_dir / "maildir"

    @property
    def web_url(self) -> str:
        """The web site's base URL as users reach it (``public_url``, else host and port)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.web_host}:{self.web_port}"

    def __repr__(self) -> str:
        return redacted_repr(self)

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and ``skysift config``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = redact(getattr(self, f.name), secret_of(f))
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out
