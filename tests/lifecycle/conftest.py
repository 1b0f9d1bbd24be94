"""Fixtures for the lifecycle tests: a real SMTP server in this process (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def take(self) -> list:
        out, self.messages = self.messages, []
        return out


@pytest.fixture
def inbox():
    """An Inbox behind a real SMTP server; ``inbox.port``."""
    from aiosmtpd.controller import Controller

    box = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        box.port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
