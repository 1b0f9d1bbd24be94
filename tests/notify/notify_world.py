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
        self.tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        # was the message sent over TLS? (STARTTLS sets session.ssl; TLS from the first byte
        # shows on the transport)
        transport = getattr(server, "transport", None)
        self.tls.append(session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None))
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


def make_test_ca(folder):
    """A throw-away certificate authority and a server certificate it signed for ``localhost``
    and 127.0.0.1: (ca_cert_path, server_cert_path, server_key_path)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("skysift test CA"))
        .issuer_name(name("skysift test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths
