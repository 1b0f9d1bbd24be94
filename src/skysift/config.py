"""The one settings object.

Precedence, lowest to highest: built-in defaults < the config file (``skysift.toml`` in the data
directory, or ``--config PATH``) < ``SKYSIFT_*`` environment variables < command-line flags.

Every field is documented in docs/configuration.md (a test fails when one is not). Build the
settings once at the edge (CLI, ASGI factory) with :func:`load_settings` and pass them down; nothing
deeper reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from skysift.errors import ConfigError

__all__ = ["CONFIG_FILENAME", "ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "SKYSIFT_"
CONFIG_FILENAME = "skysift.toml"
SECRET_KEYS = ("password", "secret", "sasl.password", "ssl.key.password", "token")


@dataclass(frozen=True)
class Settings:
    """All of skysift's settings. See docs/configuration.md for each one."""

    # where things live
    data_dir: Path = Path("skysift-data")
    database: str | None = None  # SQLAlchemy URL; None = SQLite file in data_dir
    # Kafka
    kafka: str | None = None  # bootstrap HOST:PORT; None = the embedded broker in data_dir
    kafka_config: dict[str, Any] = field(default_factory=dict)  # librdkafka pass-through
    schema_registry: str | None = None  # Confluent schema registry URL
    input_topic: str = "lsst-alerts"
    ingest_group_id: str = "skysift-ingest"
    annotations_topic: str = "skysift-annotations"  # the Kafka path for annotators
    annotations_group_id: str = "skysift-annotations"
    consumer_session_timeout_ms: int = 6000
    # batches
    batch_size: int = 1000
    batch_wait_s: float = 1.0
    # the failure policy of the batch loops (skysift.worker.policy)
    batch_max_attempts: int = 3  # tries of a batch failing by its content before it is split
    retry_backoff_max_s: float = 30.0  # longest pause between tries while a store/broker is away
    # Prometheus metrics of the ingest workers (skysift.worker.metrics); 0 = not served
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # filters
    filter_timeout_s: float = 10.0
    filter_row_cap: int = 1000
    run_timeout_s: float = 30.0
    run_row_limit: int = 1000
    # output topics
    topic_retention_ms: int = 7 * 24 * 3600 * 1000
    topic_max_message_bytes: int = 10 * 1024 * 1024
    topic_partitions: int = 1
    daily_byte_quota: int = 100_000_000
    seed_records: int = 10
    # the embedded broker
    embedded_kafka_port: int = 0  # 0 = pick a free port
    # logging
    debug: bool = False
    log_level: str = "INFO"
    # the REST API (skysift.web.api)
    api_rate_limit: int = 100  # calls per user per api_rate_window_s; <= 0 = unlimited
    api_power_rate_limit: int = 10_000  # the same for power users (users.is_power)
    api_rate_window_s: float = 3600.0
    api_query_timeout_s: float = 30.0
    api_query_row_cap: int = 10_000
    api_power_query_row_cap: int = 1_000_000
    filter_save_rate_limit: int = 60  # filter saves per user per api_rate_window_s; <= 0 = no limit
    filter_run_rate_limit: int = 120  # runs over the store per user per api_rate_window_s
    anonymous_run_rate_limit: int = 20  # runs of public filters per visitor address, same window
    login_failure_limit: int = 10  # failed log-ins per account per login_window_s (5x per address)
    login_window_s: float = 900.0
    # the web site
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    forwarded_allow_ips: str | None = None  # proxies whose X-Forwarded-For is trusted; None = none
    session_cookie_secure: bool = False  # send the session cookie over HTTPS only (behind TLS)
    private_topics_protected: bool = False  # the Kafka enforces read ACLs on lasair_* topics
    public_kafka: str | None = None  # bootstrap shown to users; None = the one skysift uses
    session_key_file: str | None = None  # None = session.key in data_dir (made 0600)
    session_max_age_s: int = 14 * 24 * 3600
    # email: digests, failure notices, expiry warnings (skysift.notify, docs/email.md)
    smtp_host: str | None = None  # None = write .eml files into the maildir in data_dir
    smtp_port: int = 0  # 0 = 465 for smtp_security "ssl", 587 for "starttls", 25 for "none"
    smtp_security: str = "starttls"  # none | starttls | ssl
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # never in repr or logs
    smtp_timeout_s: float = 30.0
    email_from: str = "skysift@localhost"
    public_url: str | None = None  # base URL of the web site in emails; None = web_host:web_port
    email_min_interval_s: float = 24 * 3600.0  # at most one digest (or failure notice) per this
    email_max_records: int = 10_000  # most matches one digest holds; more are counted rejected
    notify_interval_s: float = 60.0  # ingest loops check for due emails this often; 0 = never
    # active filters are deactivated this long after saving; 0 = never
    filter_expiry_days: int = 180
    filter_expiry_warning_days: int = 28  # the owner is warned this long before
    # the TNS catalogue loaded by `skysift tns load` (skysift.context.tns): match radius
    tns_radius_arcsec: float = 1.5
    # the SFD dust map for objects.ebv (skysift.features.dust): a folder with the NGP/SGP pair or
    # a HEALPix file; None = ebv is NULL
    sfd_dust_map: str | None = None
    # the Bazin-blackbody light-curve fit (skysift.features.bbb): on/off, seconds per batch at most
    bbb_fit: bool = True
    bbb_fit_budget_s: float = 5.0
    # image cutouts (skysift.store.cutouts): kept in <data_dir>/cutouts when true (~110 KB/alert)
    keep_cutouts: bool = False
    cutouts_url: str | None = None  # a folder or s3://BUCKET[/PREFIX]; None = <data_dir>/cutouts
    # S3-compatible object stores (skysift.store.blobs): AWS, MinIO, Ceph RGW, ...
    s3_endpoint_url: str | None = None  # None = AWS S3
    s3_region: str | None = None  # None = us-east-1
    s3_access_key_id: str | None = None  # None = boto3's own chain (AWS_* variables, ~/.aws)
    s3_secret_access_key: str | None = field(default=None, repr=False)  # never in repr or logs
    s3_max_workers: int = 16  # parallel uploads of one batch
    # context (skysift.context): gravitational-wave events in filters
    gw_max_contour: float = 0.95  # an object hits an event where its credible level is <= this
    gw_active_days: float = 21.0  # an event is live for detections this many days after it

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

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and ``skysift config``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "kafka_config":
                value = {
                    k: ("***" if any(s in k.lower() for s in SECRET_KEYS) else v)
                    for k, v in value.items()
                }
            elif f.name == "database" and value and "@" in value:
                value = _mask_url_password(value)
            elif value and any(s in f.name for s in SECRET_KEYS):
                value = "***"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def _mask_url_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _pw = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def _coerce(name: str, raw: Any, annotation: str, source: str) -> Any:
    """Turn a value from TOML, the environment or a flag into the field's type."""
    try:
        if raw is None:
            return None
        if annotation == "Path":
            return Path(str(raw)).expanduser()
        if annotation == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if annotation == "int":
            if isinstance(raw, bool):
                raise ValueError("not an integer")
            return int(raw)
        if annotation == "float":
            return float(raw)
        if annotation.startswith("dict"):
            if isinstance(raw, Mapping):
                return dict(raw)
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            return value
        if annotation.startswith("str"):
            text = str(raw)
            return text if text or "None" not in annotation else None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r} has a bad value {raw!r}: {exc}",
                          source=source) from exc
    raise ConfigError(f"setting {name!r} has an unsupported type {annotation}", source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file is not valid TOML: {exc}", path=str(path)) from exc


def load_settings(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings: defaults < config file < ``SKYSIFT_*`` env < ``overrides`` (flags).

    ``overrides`` with value ``None`` are ignored (a flag not given). The data directory is
    resolved first, since the default config file lives in it. Unknown keys in the config file
    or environment are errors, naming the key, so a typo never passes silently.
    """
    env = dict(os.environ if env is None else env)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    types = {f.name: str(f.type) for f in fields(Settings)}

    env_values: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name == "config":
            continue
        if name not in types:
            raise ConfigError(f"unknown setting in environment: {key}", key=key)
        env_values[name] = _coerce(name, raw, types[name], f"environment {key}")

    # where is the config file?
    data_dir = overrides.get("data_dir") or env_values.get("data_dir")
    path: Path | None = Path(config_file).expanduser() if config_file else None
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"]).expanduser()
    file_values: dict[str, Any] = {}
    if path is not None and not path.exists():
        raise ConfigError("config file not found", path=str(path))
    if path is None:
        guess = Path(data_dir or Settings.data_dir) / CONFIG_FILENAME
        path = guess if guess.exists() else None
    if path is not None:
        for name, raw in _read_toml(path).items():
            if name not in types:
                raise ConfigError(f"unknown setting {name!r} in config file", path=str(path))
            file_values[name] = _coerce(name, raw, types[name], str(path))

    merged: dict[str, Any] = {}
    merged.update(file_values)
    merged.update(env_values)
    for name, raw in overrides.items():
        if name not in types:
            raise ConfigError(f"unknown setting {name!r}")
        merged[name] = _coerce(name, raw, types[name], "command line")
    settings = Settings(**merged)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    positive = ("batch_size", "filter_row_cap", "run_row_limit", "topic_max_message_bytes",
                "topic_partitions", "consumer_session_timeout_ms", "batch_max_attempts")
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name!r} must be positive, not {getattr(s, name)}")
    if not 0 < s.gw_max_contour <= 1:
        raise ConfigError(f"setting 'gw_max_contour' must be above 0 and at most 1, "
                          f"not {s.gw_max_contour}")
    if s.gw_active_days <= 0:
        raise ConfigError(f"setting 'gw_active_days' must be positive, not {s.gw_active_days}")
    if s.smtp_security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"setting 'smtp_security' must be none, starttls or ssl, "
                          f"not {s.smtp_security!r}")
    for name in ("filter_expiry_days", "filter_expiry_warning_days", "notify_interval_s",
                 "email_min_interval_s", "smtp_port"):
        if getattr(s, name) < 0:
            raise ConfigError(f"setting {name!r} must not be negative, not {getattr(s, name)}")
    if not 0 <= s.metrics_port <= 65535:
        raise ConfigError(f"setting 'metrics_port' must be 0-65535, not {s.metrics_port}")
    for name in ("filter_timeout_s", "run_timeout_s", "batch_wait_s", "retry_backoff_max_s",
                 "login_window_s", "bbb_fit_budget_s", "tns_radius_arcsec"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name!r} must be positive, not {getattr(s, name)}")
    if s.kafka is not None and ":" not in s.kafka:
        raise ConfigError(f"setting 'kafka' must be HOST:PORT, not {s.kafka!r}")
    if s.database is not None and "://" not in s.database:
        raise ConfigError("setting 'database' must be a URL such as postgresql://host/db")


def replace(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with some fields changed."""
    return dataclasses.replace(settings, **changes)
