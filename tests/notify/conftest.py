"""Fixtures for the email tests: a real SMTP server in this process (aiosmtpd)."""

from __future__ import annotations

import pytest
from notify_world import Inbox, free_port


@pytest.fixture
def smtp_server():
    """(host, port, inbox) of a real SMTP server (aiosmtpd) running in a thread."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, inbox
    finally:
        controller.stop()
