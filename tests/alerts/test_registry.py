"""Decoding with a Confluent schema registry: a real HTTP server in-process serving the
registry's REST endpoint GET /schemas/ids/{id}, and confluent-kafka's real client."""

from __future__ import annotations

import json
import re
import threading
from typing import ClassVar
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from skysift.alerts.decode import decode_message
from skysift.alerts.model import AlertOrigin
from skysift.alerts.registry import clear_registry_cache
from skysift.alerts.schemas import schema_definition
from skysift.errors import BrokerError, UnknownSchemaError

from .conftest import wire_files

REGISTRY_ID = 17  # the registry's own id, not 100*major+minor
ORIGIN = AlertOrigin(topic="lsst-alerts", partition=0, offset=42)


class _Registry(BaseHTTPRequestHandler):
    schemas: ClassVar[dict[int, str]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # http.server's name
        self.hits.append(self.path)
        match = re.match(r"^/schemas/ids/(\d+)", self.path)
        if match and int(match.group(1)) in self.schemas:
            status, body = 200, {"schema": self.schemas[int(match.group(1))]}
        else:
            status, body = 404, {"error_code": 40403, "message": "Schema not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry_url():
    _Registry.schemas = {REGISTRY_ID: json.dumps(schema_definition(9, 0))}
    _Registry.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    clear_registry_cache()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        clear_registry_cache()


def _reframed(sid: int) -> bytes:
    return b"\x00" + sid.to_bytes(4, "big") + wire_files()[0].read_bytes()[5:]


def test_decode_with_registry_id(registry_url, real_records):
    raw = real_records[wire_files()[0]]
    alert = decode_message(_reframed(REGISTRY_ID), ORIGIN, registry_url=registry_url)
    again = decode_message(_reframed(REGISTRY_ID), ORIGIN, registry_url=registry_url)
    assert alert.diaSourceId == again.diaSourceId == raw["diaSourceId"]
    assert alert.schema_version == "9.0"  # from the registry schema's name lsst.v9_0.alert
    assert len([h for h in _Registry.hits if h.startswith(f"/schemas/ids/{REGISTRY_ID}")]) == 1


def test_registry_does_not_know_the_id(registry_url):
    with pytest.raises(UnknownSchemaError, match="unknown schema id 900") as info:
        decode_message(_reframed(900), ORIGIN, registry_url=registry_url)
    assert info.value.offset == 42 and info.value.topic == "lsst-alerts"


def test_registry_unreachable_is_not_a_decode_error(registry_url):
    clear_registry_cache()
    with pytest.raises(BrokerError, match="schema registry"):
        decode_message(_reframed(REGISTRY_ID), ORIGIN, registry_url="http://127.0.0.1:9")


def test_projected_registry_alert_completes_from_the_registry_schema(registry_url, real_records):
    from skysift.alerts.decode import decode_full
    from skysift.alerts.encode import encode_wire

    from .conftest import with_history

    body = encode_wire(with_history(real_records[wire_files()[0]], 3, 2), 9, 0)[5:]
    data = b"\x00" + REGISTRY_ID.to_bytes(4, "big") + body
    alert = decode_message(data, ORIGIN, registry_url=registry_url)
    assert not alert.history_complete and alert.raw == data
    full = decode_full(alert)
    assert full.history_complete
    assert full.prvDiaSources == decode_message(
        data, ORIGIN, registry_url=registry_url, full=True).prvDiaSources
    assert len(full.prvDiaSources[0]) > len(alert.prvDiaSources[0])
    assert [s["diaSourceId"] for s in full.prvDiaSources] == [
        s["diaSourceId"] for s in alert.prvDiaSources]
