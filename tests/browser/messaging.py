"""The real message peers of the browser suite's mail server: an SMTP relay (aiosmtpd, on
loopback) and the local SMS provider (an HTTP server on loopback, the protocol of
``securebox_server.delivery``), with waits for a message to arrive (the server sends them
from its request, or the jobs worker from the outbox)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.server.jobs.conftest import SMS_TOKEN, Relay, SmsHook, free_port

__all__ = ["Messages", "messages"]


@dataclass
class Messages:
    relay: Relay
    smtp_port: int
    sms_url: str
    sms: type[SmsHook]

    @property
    def settings(self) -> dict[str, str]:
        """The server's settings that send through these peers."""
        return {
            "SECUREBOX_SMTP_URL": f"smtp+plain://127.0.0.1:{self.smtp_port}?from=box@bank.example",
            "SECUREBOX_SMS_URL": self.sms_url.replace("http://", f"http://{SMS_TOKEN}@"),
        }

    def mails_to(self, to: str) -> list[EmailMessage]:
        return [m for m in self.relay.messages() if to in str(m["To"])]

    def texts_to(self, to: str) -> list[dict[str, Any]]:
        return [m for m in self.sms.received if m["to"] == to]

    def mail(self, to: str, pattern: str, *, after: int = 0, seconds: float = 20) -> re.Match[str]:
        """The first match of ``pattern`` in the plain body of a mail to ``to`` beyond the
        first ``after`` ones, waiting for it to arrive."""
        deadline = time.monotonic() + seconds
        while True:
            for mail in self.mails_to(to)[after:]:
                body = mail.get_body(("plain",))
                text = body.get_content() if body is not None else ""
                if found := re.search(pattern, text):
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {to} matching {pattern!r}")
            time.sleep(0.1)

    def text(self, to: str, pattern: str, *, after: int = 0, seconds: float = 20) -> re.Match[str]:
        """The first match of ``pattern`` in an SMS to ``to`` beyond the first ``after``."""
        deadline = time.monotonic() + seconds
        while True:
            for sms in self.texts_to(to)[after:]:
                if found := re.search(pattern, str(sms["text"])):
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no SMS to {to} matching {pattern!r}")
            time.sleep(0.1)


@contextmanager
def messages() -> Iterator[Messages]:
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler = type("Hook", (SmsHook,), {"received": [], "status": [202]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/send"
        yield Messages(relay, controller.port, url, handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        controller.stop()
