"""Writer schemas from a Confluent schema registry, fetched by id once and cached.

With a registry configured (``settings.schema_registry``), the 4-byte id in a message header is the
registry's id, not ``100 * major + minor``. The schema is fetched with confluent-kafka's
:class:`~confluent_kafka.schema_registry.SchemaRegistryClient` (``GET /schemas/ids/{id}``), parsed
with fastavro, and kept for the life of the process (registry ids are immutable).
"""

from __future__ import annotations

import json
import threading
from typing import Any, cast

import fastavro

from skysift.alerts.schemas import version_from_name
from skysift.errors import BrokerError, UnknownSchemaError

__all__ = ["RegistrySchema", "clear_registry_cache", "registry_schema"]

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_schemas: dict[tuple[str, int], RegistrySchema] = {}


class RegistrySchema:
    """One writer schema from a registry: the parsed schema and the version it names.

    Attributes
    ----------
    parsed
        The fastavro-parsed schema.
    version
        ``"major.minor"`` when the schema's name is ``lsst.v<major>_<minor>.alert``, else
        ``"registry:<id>"``.
    """

    __slots__ = ("parsed", "version")

    def __init__(self, parsed: dict[str, Any], version: str) -> None:
        self.parsed = parsed
        self.version = version


def _client(url: str) -> Any:
    client = _clients.get(url)
    if client is None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        client = SchemaRegistryClient({"url": url})
        _clients[url] = client
    return client


def registry_schema(url: str, sid: int) -> RegistrySchema:
    """The writer schema with id ``sid`` in the registry at ``url``, fetched once.

    Raises
    ------
    UnknownSchemaError
        The registry answered that it has no schema with that id, or sent one that is not Avro.
    BrokerError
        The registry could not be reached or failed; the message itself may be fine, so callers
        should not dead-letter it.
    """
    key = (url, sid)
    cached = _schemas.get(key)
    if cached is not None:
        return cached
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    with _lock:
        cached = _schemas.get(key)
        if cached is not None:
            return cached
        try:
            fetched = _client(url).get_schema(sid)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaError(
                    f"unknown schema id {sid}: the schema registry has no such schema",
                    schema_id=sid, registry=url,
                ) from exc
            raise BrokerError(
                f"schema registry failed for id {sid}: {exc.error_message}", registry=url
            ) from exc
        except Exception as exc:  # transport errors of the registry client
            raise BrokerError(
                f"schema registry unreachable for id {sid}: {exc}", registry=url
            ) from exc
        if (fetched.schema_type or "AVRO").upper() != "AVRO":
            raise UnknownSchemaError(
                f"schema id {sid} in the registry is {fetched.schema_type}, not Avro",
                schema_id=sid, registry=url,
            )
        try:
            definition = json.loads(fetched.schema_str)
            parsed = fastavro.parse_schema(definition)
        except (ValueError, TypeError, KeyError) as exc:
            raise UnknownSchemaError(
                f"schema id {sid} from the registry is not a valid Avro schema: {exc}",
                schema_id=sid, registry=url,
            ) from exc
        name = definition.get("name") if isinstance(definition, dict) else None
        namespace = definition.get("namespace") if isinstance(definition, dict) else None
        full = f"{namespace}.{name}" if namespace and name and "." not in name else name
        version = version_from_name(full)
        label = f"{version[0]}.{version[1]}" if version else f"registry:{sid}"
        # an alert schema is a record, which parses to a dict (anything else fails to decode)
        result = RegistrySchema(cast(dict[str, Any], parsed), label)
        _schemas[key] = result
        return result


def clear_registry_cache() -> None:
    """Forget every fetched schema and client (tests, or a registry that was reset)."""
    with _lock:
        _schemas.clear()
        _clients.clear()
