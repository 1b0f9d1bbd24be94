"""Rubin alert schemas: the versions lsst-alert-packet ships, parsed once and cached by id.

Rubin's Kafka framing names the writer schema by a 4-byte id, ``100 * major + minor`` (``900`` is
lsst.v9_0). The schemas themselves come from the installed PyPI package ``lsst-alert-packet``
(``lsst/alert/packet/schema/<major>/<minor>/lsst.v<major>_<minor>.alert.avsc``). With a Confluent
schema registry the ids are the registry's own: see :mod:`skysift.alerts.registry`.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache, cache
import importlib.util
from importlib import resources
from pathlib import Path
from typing import Any, cast

import fastavro
import fastavro.schema
import fastavro.validation

from skysift.errors import UnknownSchemaError

__all__ = [
    "available_versions",
    "infer_version",
    "newest_fitting_version",
    "schema_definition",
    "schema_for_id",
    "schema_for_version",
    "schema_id",
    "version_from_name",
    "version_of_id",
]

_NAME = re.compile(r"lsst\.v(\d+)_(\d+)(?:\.alert)?$")
_lock = threading.Lock()
_parsed: dict[int, dict[str, Any]] = {}


@cache
def _schema_root() -> Path:
    """lsst-alert-packet's ``schema`` folder, found without importing the package (its import
    pulls in lsst.resources and takes ~0.1 s at every start)."""
    spec = importlib.util.find_spec("lsst.alert.packet")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        root = Path(folder) / "schema"
        if root.is_dir():
            return root
    return Path(str(resources.files("lsst.alert.packet").joinpath("schema")))


@lru_cache(maxsize=1)
def available_versions() -> list[tuple[int, int]]:
    """Every ``(major, minor)`` the installed lsst-alert-packet ships, oldest first.

    Returns
    -------
    list of tuple of int
        For example ``[(3, 0), (4, 0), ..., (11, 1)]``.
    """
    found: list[tuple[int, int]] = []
    root = _schema_root()
    for major_dir in root.iterdir():
        if not major_dir.name.isdigit():
            continue
        for minor_dir in major_dir.iterdir():
            avsc = minor_dir / f"lsst.v{major_dir.name}_{minor_dir.name}.alert.avsc"
            if minor_dir.name.isdigit() and avsc.is_file():
                found.append((int(major_dir.name), int(minor_dir.name)))
    return sorted(found)


def schema_id(major: int, minor: int) -> int:
    """Rubin's framing id of a version: ``100 * major + minor``."""
    return 100 * major + minor


def version_of_id(sid: int) -> tuple[int, int]:
    """The ``(major, minor)`` of a Rubin framing id (``900`` -> ``(9, 0)``)."""
    return divmod(sid, 100)


def version_from_name(name: str | None) -> tuple[int, int] | None:
    """The version in a writer schema's full name (``lsst.v9_0.alert`` -> ``(9, 0)``), else None."""
    if not name:
        return None
    match = _NAME.search(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _avsc_path(major: int, minor: int) -> Path:
    return _schema_root() / str(major) / str(minor) / f"lsst.v{major}_{minor}.alert.avsc"


@cache
def schema_definition(major: int, minor: int) -> dict[str, Any]:
    """The full, unparsed alert schema of one version (named types expanded inline).

    Use it to derive other schemas (tests, publishing); treat it as read-only.

    Raises
    ------
    UnknownSchemaError
        The version is not shipped by the installed lsst-alert-packet.
    """
    if (major, minor) not in available_versions():
        raise UnknownSchemaError(
            f"schema version {major}.{minor} is not shipped by lsst-alert-packet "
            f"(it has {', '.join(f'{a}.{b}' for a, b in available_versions())})"
        )
    # an .avsc of a record schema loads as a dict
    return cast(dict[str, Any], fastavro.schema.load_schema(str(_avsc_path(major, minor)),
                                                            _write_hint=False))


def schema_for_id(sid: int) -> dict[str, Any]:
    """The parsed fastavro schema of a Rubin framing id, parsed once and cached.

    Parameters
    ----------
    sid
        ``100 * major + minor`` as in the message header.

    Returns
    -------
    dict
        A schema parsed by :func:`fastavro.parse_schema`, ready for ``schemaless_reader``.

    Raises
    ------
    UnknownSchemaError
        No shipped version has that id.
    """
    cached = _parsed.get(sid)
    if cached is not None:
        return cached
    major, minor = version_of_id(sid)
    if sid < 0 or (major, minor) not in available_versions():
        raise UnknownSchemaError(
            f"unknown schema id {sid}: lsst-alert-packet ships "
            f"{', '.join(str(schema_id(*v)) for v in available_versions())}",
            schema_id=sid,
        )
    with _lock:
        if sid not in _parsed:
            _parsed[sid] = cast(dict[str, Any],  # a record schema parses to a dict
                                fastavro.parse_schema(schema_definition(major, minor)))
        return _parsed[sid]


def schema_for_version(major: int, minor: int) -> dict[str, Any]:
    """The parsed fastavro schema of ``major.minor`` (see :func:`schema_for_id`)."""
    return schema_for_id(schema_id(major, minor))


@cache
def _field_names(major: int, minor: int) -> tuple[frozenset[str], frozenset[str]]:
    """Field names of the alert record and of its diaSource record, for one version."""
    definition = schema_definition(major, minor)
    top = frozenset(f["name"] for f in definition["fields"])
    source = next(f["type"] for f in definition["fields"] if f["name"] == "diaSource")
    return top, frozenset(f["name"] for f in source["fields"])


def infer_version(record: dict[str, Any]) -> tuple[int, int] | None:
    """The newest shipped version whose diaSource fields are exactly the record's, or None.

    Used for re-serialised alerts (fink's ``topLevelRecord``) whose writer schema carries no
    version. Alert-level fields are compared too where they tell versions apart (``MPCORB`` vs
    ``mpc_orbits``), but extra alert-level fields added by a re-serialiser are tolerated.
    """
    source = record.get("diaSource")
    if not isinstance(source, dict):
        return None
    keys = frozenset(source)
    top_keys = frozenset(record)
    for major, minor in reversed(available_versions()):
        top, fields = _field_names(major, minor)
        telling = {"MPCORB", "mpc_orbits", "alertId", "diaSourceId"} & top_keys
        if keys == fields and telling <= top:
            return major, minor
    return None


def newest_fitting_version(
    record: dict[str, Any], hint: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """The newest shipped version whose official schema can encode ``record``, or None.

    A version fits when fastavro validates the record against it with no field left over; when
    none fits that strictly, the newest one that fits with unknown fields ignored is taken.
    ``hint`` is tried first (the version the previous record of the same file fitted).
    """
    versions = list(reversed(available_versions()))
    if hint is not None and hint in versions:
        versions.remove(hint)
        versions.insert(0, hint)
    for strict in (True, False):
        for major, minor in versions:
            schema = schema_for_version(major, minor)
            if fastavro.validation.validate(record, schema, raise_errors=False, strict=strict):
                return major, minor
    return None
