"""Helpers for the email tests: new alerts made from real ones, a clock, an SMTP server."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skysift.alerts.encode import encode_wire, load_wire_record

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"


def real_alerts() -> list[Path]:
    """The real alert files that have a diaObject (solar-system-only alerts have none)."""
    return [p for p in sorted(RUBIN.glob("*.avro")) if load_wire_record(p)[0].get("diaObject")]


def new_alerts(folder: Path, n: int, first_id: int, days_later: float = 0.0) -> list[int]:
    """Write ``n`` alerts into ``folder``: copies of real ones as new objects with new ids.

    Returns the new diaObjectIds (= diaSourceIds)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = real_alerts()
    ids = []
    for k in range(n):
        rec, sid = load_wire_record(files[k % len(files)])
        new = first_id + k
        src = dict(rec["diaSource"], diaSourceId=new, diaObjectId=new,
                   midpointMjdTai=rec["diaSource"]["midpointMjdTai"] + days_later)
        obj = dict(rec["diaObject"], diaObjectId=new)
        rec = dict(rec, diaSourceId=new, diaSource=src, diaObject=obj)
        (folder / f"{new}.avro").write_bytes(encode_wire(rec, sid // 100, sid % 100))
        ids.append(new)
    return ids


@dataclass
class Clock:
    """A controllable UTC clock for :class:`skysift.notify.Notifier`."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def take(self) -> list:
        out, self.messages = self.messages, []
        return out


def parts(msg) -> tuple[str, str, list]:
    """(text, html, JSON attachment) of a digest."""
    import json

    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "application/json"
    return text, html, json.loads(att.get_content())
