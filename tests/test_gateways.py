"""Gateways against real servers on loopback: aiosmtpd for e-mail, http.server for SMS."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.shell.gateways import DeliveryFailed, FileOutbox, HttpSmsGateway, SmtpGateway

SMS = OobMessage(
    Channel.SMS, "+33612345678", "Bank: your security code", "Bank: 482913 is your code", "c1"
)
MAIL = OobMessage(
    Channel.EMAIL,
    "jeanne@example.com",
    "Bank: your security code",
    "Bank: 482913 is your code",
    "c2",
)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Inbox]]:
    inbox = _Inbox()
    # aiosmtpd checks that it started by connecting to its port: it needs a real number.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_smtp_gateway_delivers_to_a_real_server(smtp_server: tuple[Controller, _Inbox]) -> None:
    controller, inbox = smtp_server
    port = controller.port
    gateway = SmtpGateway(
        host="127.0.0.1", port=port, sender="no-reply@bank.example", starttls=False
    )
    gateway.send(MAIL)
    (envelope,) = inbox.received
    assert envelope.rcpt_tos == ["jeanne@example.com"]
    assert envelope.mail_from == "no-reply@bank.example"
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "Bank: your security code"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "482913" in mail.get_payload()


def test_smtp_refusals_and_unreachable_relays_raise(smtp_server: tuple[Controller, _Inbox]) -> None:
    controller, _ = smtp_server
    port = controller.port
    gateway = SmtpGateway(
        host="127.0.0.1", port=port, sender="no-reply@bank.example", starttls=False
    )
    refused = OobMessage(Channel.EMAIL, "x@refused.example", "s", "482913", "c3")
    with pytest.raises(DeliveryFailed) as caught:
        gateway.send(refused)
    assert "482913" not in str(caught.value)
    assert "refused.example" not in str(caught.value)
    # STARTTLS asked of a server that has none: refused, nothing sent in clear
    tls = SmtpGateway(host="127.0.0.1", port=port, sender="no-reply@bank.example", timeout=2)
    with pytest.raises(DeliveryFailed):
        tls.send(MAIL)
    closed = SmtpGateway(
        host="127.0.0.1", port=1, sender="no-reply@bank.example", starttls=False, timeout=2
    )
    with pytest.raises(DeliveryFailed):
        closed.send(MAIL)


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], dict[str, Any]]]] = []
    status: ClassVar[int] = 202

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Webhook]]]:
    handler = type("Handler", (_Webhook,), {"received": [], "status": 202})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_sms_gateway_posts_to_a_real_webhook(webhook: tuple[str, type[_Webhook]]) -> None:
    url, handler = webhook
    HttpSmsGateway(url=url, token="s3cret-token").send(SMS)
    ((headers, body),) = handler.received
    assert body == {"to": "+33612345678", "text": "Bank: 482913 is your code", "reference": "c1"}
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert headers["Content-Type"] == "application/json"


def test_sms_gateway_failures(webhook: tuple[str, type[_Webhook]]) -> None:
    url, handler = webhook
    handler.status = 500
    with pytest.raises(DeliveryFailed, match="500"):
        HttpSmsGateway(url=url, token="t").send(SMS)
    with pytest.raises(DeliveryFailed):
        HttpSmsGateway(url="http://127.0.0.1:1/sms", token="t", timeout=2).send(SMS)
    gateway = HttpSmsGateway(url=url, token="t")
    assert "token" not in repr(gateway) or "t'" not in repr(gateway)


def test_gateway_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        HttpSmsGateway(url="http://sms.example/hook", token="t")
    with pytest.raises(ConfigurationError):
        HttpSmsGateway(url="https://sms.example/hook", token="")
    with pytest.raises(ConfigurationError):
        SmtpGateway(host="smtp.example", sender="a@b.example", starttls=False)
    with pytest.raises(ConfigurationError):
        SmtpGateway(host="smtp.example", sender="a@b.example", username="u")
    with pytest.raises(ConfigurationError):
        SmtpGateway(host="127.0.0.1", sender="a@b.example", starttls=False).send(SMS)
    assert "pw" not in repr(
        SmtpGateway(host="smtp.example", sender="a@b.example", username="u", password="pw")
    )


def test_file_outbox(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    assert outbox.messages() == []
    outbox.send(SMS)
    outbox.send(MAIL)
    sent = outbox.messages()
    assert [m["to"] for m in sent] == ["+33612345678", "jeanne@example.com"]
    assert sent[0]["channel"] == "sms"
    with pytest.raises(DeliveryFailed):
        FileOutbox(tmp_path / "missing" / "dir" / "outbox.jsonl").send(SMS)
