"""Rubin/LSST alerts in as :class:`Alert` objects, and out again as bytes.

- :func:`decode_message`: one Kafka message in Rubin's framing -> Alert (history projected);
  :func:`decode_full`: the same alert with every history field;
- :func:`iter_alert_files`, :func:`read_alerts`: alert files (framing, Avro containers, JSON);
- :func:`normalise_lsst`: a decoded record of any shipped schema version -> Alert;
- :func:`encode_wire`, :func:`load_wire_record`, :func:`publish_files`: back out as bytes;
- :class:`DeadLetterFolder`, :func:`dead_letter_record`: where bad alerts go.

See docs/alert-formats.md for the forms, the version mapping table and dead-letter formats.
"""

from __future__ import annotations

from skysift.alerts.deadletter import DeadLetterFolder, dead_letter_record
from skysift.alerts.decode import decode_full, decode_message
from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.alerts.publish import publish_files
from skysift.alerts.schemas import available_versions, schema_for_id

__all__ = [
    "Alert",
    "AlertOrigin",
    "DeadLetterFolder",
    "available_versions",
    "dead_letter_record",
    "decode_full",
    "decode_message",
    "encode_wire",
    "iter_alert_files",
    "load_wire_record",
    "normalise_lsst",
    "publish_files",
    "read_alerts",
    "schema_for_id",
]
