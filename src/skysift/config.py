"""The one settings object, and the registry it is built from.

Precedence, lowest to highest: built-in defaults < the config file (``skysift.toml`` in the data
directory, or ``--config PATH``) < ``SKYSIFT_*`` environment variables < command-line flags.

Every setting is declared once, in :mod:`skysift.config_declared`, with :func:`setting`: its
type (the annotation), default, help text and whether it is secret. From that declaration come
the registry (:data:`SETTINGS`, here), ``repr(settings)`` and :meth:`Settings.redacted` (secrets
masked, for logs and ``skysift config``), and the table of docs/configuration.md
(:mod:`skysift.configdoc`; a test fails when the page is stale). ``SKYSIFT_*`` variables that are
not settings (``SKYSIFT_CONFIG``, ``SKYSIFT_GCN_SETTINGS``, ...) are declared in
:data:`ENVIRONMENT`; any other ``SKYSIFT_*`` variable is an error that names it.

Build the settings once at the edge (CLI, ASGI factory) with :func:`load_settings` and pass them
down; nothing deeper reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from skysift.config_declared import LOG_LEVELS, Settings, setting
from skysift.errors import ConfigError
from skysift.redaction import SecretKind

__all__ = [
    "CONFIG_FILENAME",
    "ENVIRONMENT",
    "ENV_PREFIX",
    "LOG_LEVELS",
    "SETTINGS",
    "SettingSpec",
    "Settings",
    "load_settings",
    "setting",
]

ENV_PREFIX = "SKYSIFT_"
CONFIG_FILENAME = "skysift.toml"

#: ``SKYSIFT_*`` environment variables that are not settings, and what reads them. They are
#: never "unknown settings"; every other ``SKYSIFT_*`` variable must name a setting.
ENVIRONMENT: dict[str, str] = {
    "SKYSIFT_CONFIG": "The config file, as `--config PATH` (default: `skysift.toml` in the data "
                      "directory).",
    "SKYSIFT_GCN_SETTINGS": "The GCN listener's settings file, as `skysift gcn --settings PATH` "
                            "(a YAML file of its own, see gcn.md); also set for GCN plugins.",
    "SKYSIFT_TEST_PG": "Tests only: the PostgreSQL server the test suite uses "
                       "(default `postgresql://postgres@127.0.0.1:5432/postgres`).",
}


@dataclass(frozen=True)
class SettingSpec:
    """One entry of the settings registry: a field of :class:`Settings` and its metadata."""

    name: str
    type: str
    default: Any
    help: str
    secret: SecretKind | None = None
    default_text: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return ENV_PREFIX + self.name.upper()


def _registry() -> tuple[SettingSpec, ...]:
    defaults = Settings()
    return tuple(
        SettingSpec(name=f.name, type=str(f.type), default=getattr(defaults, f.name),
                    help=f.metadata["help"], secret=f.metadata["secret"],
                    default_text=f.metadata["default_text"], choices=f.metadata["choices"])
        for f in fields(Settings))


#: Every setting, in the order of docs/configuration.md.
SETTINGS: tuple[SettingSpec, ...] = _registry()
_SPECS = {spec.name: spec for spec in SETTINGS}


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
    types = {spec.name: spec.type for spec in SETTINGS}

    env_values: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        if key in ENVIRONMENT:  # SKYSIFT_CONFIG, SKYSIFT_GCN_SETTINGS...: not settings
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in types:
            raise ConfigError(f"unknown setting in environment: {key} (the settings are in "
                              "docs/configuration.md)", key=key)
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
    if isinstance(merged.get("log_level"), str):
        merged["log_level"] = merged["log_level"].upper()
    settings = Settings(**merged)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    positive = ("batch_size", "filter_row_cap", "run_row_limit", "topic_max_message_bytes",
                "topic_partitions", "consumer_session_timeout_ms", "batch_max_attempts",
                "archive_segment_mb")
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name!r} must be positive, not {getattr(s, name)}")
    if not 0 < s.gw_max_contour <= 1:
        raise ConfigError(f"setting 'gw_max_contour' must be above 0 and at most 1, "
                          f"not {s.gw_max_contour}")
    if not 0 < s.max_match_fraction <= 1:
        raise ConfigError(f"setting 'max_match_fraction' must be above 0 and at most 1, "
                          f"not {s.max_match_fraction}")
    if s.gw_active_days <= 0:
        raise ConfigError(f"setting 'gw_active_days' must be positive, not {s.gw_active_days}")
    for spec in SETTINGS:
        value = getattr(s, spec.name)
        if spec.choices is not None and value not in spec.choices:
            raise ConfigError(f"setting {spec.name!r} must be {_one_of(spec.choices)}, "
                              f"not {value!r}")
    for name in ("filter_expiry_days", "filter_expiry_warning_days", "notify_interval_s",
                 "email_min_interval_s", "smtp_port", "archive_nights"):
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


def _one_of(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
