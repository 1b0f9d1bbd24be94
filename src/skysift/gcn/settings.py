"""The GCN listener's settings file: defaults, validation, ``init``, and the stored group id.

Lookup order (:func:`settings_path`): ``--settings PATH``, then ``$SKYSIFT_GCN_SETTINGS``, then
``~/.config/skysift/gcn.yaml``. Relative paths in the file are relative to the file. Unknown keys in
the ``gcn-kafka`` and ``lvk`` sections are errors (a typo must not silently change behaviour); other
top-level sections are kept for plugins.

This is not a second :func:`skysift.config.load_settings`: it reads a separate *file*, the YAML
schema of gocart's settings (nested sections, a filter list, extra sections handed to plugins, a
``group_id`` written back into the file), documented key by key in docs/gcn.md, with no
environment layer. What it shares with the broker's settings: :class:`~skysift.errors.ConfigError`
naming the file and the key, ``SKYSIFT_GCN_SETTINGS`` declared in
:data:`skysift.config.ENVIRONMENT` (so it never fails another command), and the secret marking
(:func:`skysift.redaction.secret_metadata`): ``repr`` masks ``client_secret`` and the secrets of
``kafka`` and ``raw``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from skysift.redaction import redacted_repr, secret_metadata
from skysift.errors import ConfigError
from skysift.gcn import atomic
from skysift.gcn.filters import FilterSpec, parse_filters
from skysift.gcn.template import PLUGIN_TEMPLATE, SETTINGS_TEMPLATE

__all__ = [
    "DEFAULT_SETTINGS_PATH",
    "SETTINGS_ENV",
    "GcnSettings",
    "PlotSettings",
    "ensure_group_id",
    "init_settings",
    "load_gcn_settings",
    "settings_path",
]

DEFAULT_SETTINGS_PATH = Path("~/.config/skysift/gcn.yaml")
#: the environment variable naming the settings file (declared in skysift.config.ENVIRONMENT)
SETTINGS_ENV = "SKYSIFT_GCN_SETTINGS"
GcnDomain = Literal["gcn.nasa.gov", "test.gcn.nasa.gov", "dev.gcn.nasa.gov"]
_DOMAINS: tuple[GcnDomain, ...] = get_args(GcnDomain)
_KAFKA_KEYS = {"client_id", "client_secret", "domain", "group_id", "topic", "start_at", "kafka"}
_LVK_KEYS = {"parse_mock_events", "parse_real_events", "download_dir", "json", "aitoff",
             "ascii_map", "moc", "filters"}
_AITOFF_KEYS = {"convert", "galactic_plane", "sun_moon", "sun_radius", "moon_radius",
                "sun_moon_contour", "day_night"}  # the last two: gocart's, accepted and ignored


@dataclass(frozen=True)
class PlotSettings:
    """What skymap.png shows."""

    convert: bool = True
    galactic_plane: bool = True
    sun_moon: bool = True
    sun_radius: float = 33.0
    moon_radius: float = 20.0


@dataclass(frozen=True, repr=False)
class GcnSettings:
    """Everything the listener needs, validated. ``raw`` is the whole file, handed to plugins.

    ``repr`` masks the secrets (``client_secret``, and those of ``kafka`` and ``raw``)."""

    path: Path
    raw: dict[str, Any] = field(metadata=secret_metadata("keys"))
    client_id: str = ""
    client_secret: str = field(default="", metadata=secret_metadata("value"))
    domain: GcnDomain = "gcn.nasa.gov"
    group_id: str = ""
    topic: str = "igwn.gwalert"
    start_at: str = "end"
    kafka: dict[str, Any] = field(default_factory=dict, metadata=secret_metadata("keys"))
    parse_mock_events: bool = False
    parse_real_events: bool = True
    download_dir: Path = Path("~/lvk_events")
    write_notice: bool = True
    plot: PlotSettings = PlotSettings()
    ascii_map: bool = True
    nside: int = 64
    moc: bool = True
    filters: list[FilterSpec] = field(default_factory=list)
    plugins_enabled: bool = True
    plugins_dir: Path = Path("plugins")
    plugin_timeout: float = 60.0
    #: the broker's store to register every written alert in (the ``broker`` section, or the
    #: global --data-dir / --database of ``skysift gcn ...``); both None = not registered
    broker_data_dir: Path | None = None
    broker_database: str | None = None

    def __repr__(self) -> str:
        return redacted_repr(self)

    @property
    def state_dir(self) -> Path:
        """Where the daemon keeps its pid, log and status files: beside the settings file."""
        return self.path.parent


def _section(raw: dict[str, Any], name: str, known: set[str], path: str) -> dict[str, Any]:
    sec = raw.get(name) or {}
    if not isinstance(sec, dict):
        raise ConfigError(f"{name} must be a mapping", path=path, key=name)
    for k in sec:
        if k not in known:
            raise ConfigError(f"unknown setting {name}.{k}; known: {', '.join(sorted(known))}",
                              path=path, key=f"{name}.{k}")
    return sec


def _typed(sec: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, path: str,
           prefix: str) -> Any:
    value = sec.get(key, default)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{prefix}.{key} has the wrong type: {value!r}", path=path,
                          key=f"{prefix}.{key}")
    return value


def _path(value: str, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p)


def settings_path(given: Path | str | None = None,
                  env: Mapping[str, str] | None = None) -> Path:
    """The settings file to use: ``given`` (``--settings``), else ``$SKYSIFT_GCN_SETTINGS`` in
    ``env`` (default: the process environment), else ``~/.config/skysift/gcn.yaml``."""
    import os

    env = os.environ if env is None else env
    return Path(given or env.get(SETTINGS_ENV) or DEFAULT_SETTINGS_PATH).expanduser()


def load_gcn_settings(path: Path | str) -> GcnSettings:
    """Read and validate a settings file.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or has an unknown key or a bad value (``key=``
        names it).
    """
    path = Path(path).expanduser().resolve()
    p = str(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError("no GCN settings file; run `skysift gcn init` first", path=p) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read GCN settings: {exc}", path=p) from exc
    if not isinstance(raw, dict):
        raise ConfigError("GCN settings must be a mapping", path=p)
    gk = _section(raw, "gcn-kafka", _KAFKA_KEYS, p)
    lvk = _section(raw, "lvk", _LVK_KEYS, p)
    aitoff = _section(lvk, "aitoff", _AITOFF_KEYS, p)
    ascii_map = _section(lvk, "ascii_map", {"convert", "nside"}, p)
    moc = _section(lvk, "moc", {"convert"}, p)
    plugins = _section(raw, "plugins", {"enabled", "folder", "timeout"}, p)
    broker = _section(raw, "broker", {"data_dir", "database"}, p)
    base = path.parent

    domain = str(gk.get("domain") or "gcn.nasa.gov")
    if domain not in _DOMAINS:
        raise ConfigError(f"gcn-kafka.domain must be one of {', '.join(_DOMAINS)}", path=p,
                          key="gcn-kafka.domain")
    start_at = str(gk.get("start_at") or "end")
    if start_at not in ("end", "beginning"):
        raise ConfigError("gcn-kafka.start_at must be end or beginning", path=p,
                          key="gcn-kafka.start_at")
    kafka = gk.get("kafka") or {}
    if not isinstance(kafka, dict):
        raise ConfigError("gcn-kafka.kafka must be a mapping of librdkafka settings", path=p,
                          key="gcn-kafka.kafka")
    group_id = gk.get("group_id")
    group_id = "" if group_id in (None, "XXXX") else str(group_id)
    nside = _typed(ascii_map, "nside", int, 64, p, "lvk.ascii_map")
    if nside < 1 or nside & (nside - 1) or nside > 8192:
        raise ConfigError("lvk.ascii_map.nside must be a power of two up to 8192", path=p,
                          key="lvk.ascii_map.nside")
    sun_moon = _typed(aitoff, "sun_moon", bool, True, p, "lvk.aitoff")
    return GcnSettings(
        path=path,
        raw=raw,
        client_id=str(gk.get("client_id") or ""),
        client_secret=str(gk.get("client_secret") or ""),
        domain=domain,
        group_id=group_id,
        topic=str(gk.get("topic") or "igwn.gwalert"),
        start_at=start_at,
        kafka={str(k): v for k, v in kafka.items()},
        parse_mock_events=_typed(lvk, "parse_mock_events", bool, False, p, "lvk"),
        parse_real_events=_typed(lvk, "parse_real_events", bool, True, p, "lvk"),
        download_dir=_path(lvk.get("download_dir") or "~/lvk_events", base),
        write_notice=_typed(lvk, "json", bool, True, p, "lvk"),
        plot=PlotSettings(
            convert=_typed(aitoff, "convert", bool, True, p, "lvk.aitoff"),
            galactic_plane=_typed(aitoff, "galactic_plane", bool, True, p, "lvk.aitoff"),
            sun_moon=_typed(aitoff, "sun_moon_contour", bool, sun_moon, p, "lvk.aitoff")
            and sun_moon,
            sun_radius=_typed(aitoff, "sun_radius", float, 33.0, p, "lvk.aitoff"),
            moon_radius=_typed(aitoff, "moon_radius", float, 20.0, p, "lvk.aitoff"),
        ),
        ascii_map=_typed(ascii_map, "convert", bool, True, p, "lvk.ascii_map"),
        nside=nside,
        moc=_typed(moc, "convert", bool, True, p, "lvk.moc"),
        filters=parse_filters(lvk.get("filters"), path=p),
        plugins_enabled=_typed(plugins, "enabled", bool, True, p, "plugins"),
        plugins_dir=_path(plugins.get("folder") or "plugins", base),
        plugin_timeout=_typed(plugins, "timeout", float, 60.0, p, "plugins"),
        broker_data_dir=_path(broker["data_dir"], base) if broker.get("data_dir") else None,
        broker_database=str(broker["database"]) if broker.get("database") else None,
    )


#: The template plugin's name as installed: not gp_*.py, so the listener does not run it (it
#: prints every alert's files); copy it to gp_<name>.py to make a plugin of it.
TEMPLATE_NAME = "gp_template.py.example"


def init_settings(path: Path | str, *, force: bool = False) -> tuple[Path, Path]:
    """Write the commented settings file and ``plugins/gp_template.py.example`` beside it
    (installed disabled: copy it to ``gp_<name>.py`` to run it for every alert).

    An existing settings file is kept unless ``force``; returns (settings path, plugins folder).
    """
    path = Path(path).expanduser().resolve()
    if path.exists() and not force:
        raise ConfigError("settings file exists; use --force to overwrite it", path=str(path))
    atomic.write_text(path, SETTINGS_TEMPLATE)
    plugins = path.parent / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    template = plugins / TEMPLATE_NAME
    if not template.exists() or force:
        atomic.write_text(template, PLUGIN_TEMPLATE)
    return path, plugins


_GROUP_LINE = re.compile(r"^(?P<indent>[ \t]+)group_id:[^\n]*$", re.MULTILINE)


def ensure_group_id(settings: GcnSettings) -> GcnSettings:
    """Give ``settings`` a group id, generating one and storing it in the file actually in use.

    The file's text is edited in place (comments kept): the ``group_id:`` line of the
    ``gcn-kafka`` section is replaced, or one is added to that section.
    """
    if settings.group_id:
        return settings
    from dataclasses import replace

    gid = f"skysift-{uuid.uuid4().hex}"
    text = settings.path.read_text()
    section = re.search(r"^gcn-kafka:[^\n]*\n", text, re.MULTILINE)
    if section is None:
        text = text.rstrip("\n") + f"\n\ngcn-kafka:\n  group_id: {gid}\n"
    else:
        start = section.end()
        nxt = re.search(r"^\S", text[start:], re.MULTILINE)
        end = start + nxt.start() if nxt else len(text)
        body = text[start:end]
        if _GROUP_LINE.search(body):
            body = _GROUP_LINE.sub(lambda m: f"{m.group('indent')}group_id: {gid}", body, count=1)
        else:
            body = f"  group_id: {gid}\n" + body
        text = text[:start] + body + text[end:]
    atomic.write_text(settings.path, text)
    reloaded = load_gcn_settings(settings.path)
    if reloaded.group_id != gid:
        raise ConfigError("could not store the generated group_id in the settings file",
                          path=str(settings.path), key="gcn-kafka.group_id")
    return replace(settings, group_id=gid, raw=reloaded.raw)
