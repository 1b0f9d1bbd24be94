"""Sending email: SMTP when ``smtp_host`` is set, otherwise ``.eml`` files in a maildir.

The maildir (``<data_dir>/maildir``) has Maildir's ``tmp``/``new``/``cur`` folders; each message
is written into ``tmp`` and renamed into ``new`` as ``<time>.<random>.eml``, so a reader never
sees half a file, and any mail client that reads Maildir (or a text editor) can open it.

The SMTP password is never logged: errors name the host, port and user only.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from skysift.config import Settings
from skysift.errors import EmailError

__all__ = ["EmailError", "MaildirSender", "Sender", "SmtpSender", "sender_for"]

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class Sender(Protocol):
    def send(self, msg: EmailMessage) -> str:
        """Send ``msg``; return where it went (for logs and reports)."""


class SmtpSender:
    """Send through an SMTP server (STARTTLS, TLS from the start, or plain), one connection
    per message."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host or "localhost"
        self.security = settings.smtp_security
        self.port = settings.smtp_port or DEFAULT_PORTS[self.security]
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.timeout = settings.smtp_timeout_s

    def __repr__(self) -> str:  # no password
        return f"SmtpSender({self.host}:{self.port}, {self.security}, user={self.user!r})"

    def send(self, msg: EmailMessage) -> str:
        where = f"smtp://{self.host}:{self.port}"
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self._password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            # str(exc) of smtplib never contains the password; say which server and user
            raise EmailError(f"could not send email to {msg['To']} via {where}"
                             f"{' as ' + self.user if self.user else ''}: "
                             f"{type(exc).__name__}: {exc}") from exc
        return where


class MaildirSender:
    """Write each message as an ``.eml`` file into a maildir (no SMTP configured)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, msg: EmailMessage) -> str:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time():.6f}.{uuid.uuid4().hex[:12]}.eml"
        tmp = self.path / "tmp" / name
        try:
            tmp.write_bytes(bytes(msg))
            final = self.path / "new" / name
            os.replace(tmp, final)
        except OSError as exc:
            raise EmailError(f"could not write email into {self.path}: {exc}") from exc
        return str(final)


def sender_for(settings: Settings) -> Sender:
    """SMTP when ``smtp_host`` is set, otherwise the data directory's maildir."""
    if settings.smtp_host:
        return SmtpSender(settings)
    return MaildirSender(settings.maildir)
