"""Fixtures of the login method pages.

* A server on SQLite with the demo's CAP card bound to user 04 (the real binding: a first
  Identify code computed by the reader emulator in front of the software card).
* Real delivery on loopback for the code-by-message pages: an aiosmtpd SMTP server and an
  http.server SMS webhook, each started and stopped by the test; a policy that accepts codes
  by SMS and e-mail at login (the demo's); destinations enrolled the library's way.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from email import message_from_bytes
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.shell.securebox import Securebox
from securebox_server.app import create_app
from securebox_server.demo_cap import seed_cap_card
from securebox_server.demo_data import prepare
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from securebox_server.wiring import DEMO_ISSUER_PASSPHRASE, build_securebox
from tests.server.conftest import CLIENT, token

CAP_USER = "04"
CAP_CODE = "63918274"
PIN_LINE = re.compile(r"PIN ([0-9]{4})")
DISPLAY = re.compile(r'id="reader-code"[^>]*>([0-9]{8})<')


@dataclass
class CapServer:
    client: TestClient
    box: Securebox
    clock: FixedClock
    cards: Path
    pin: str

    def reader(self, mode: str = "identify", challenge: str = "", pin: str | None = None):  # type: ignore[no-untyped-def]
        """Press the virtual reader's button (the demo page) and return the response."""
        page = self.client.get("/demo/cap-reader")
        assert page.status_code == 200, page.text
        form = {
            "card": "demo-cap-card",
            "pin": self.pin if pin is None else pin,
            "mode": mode,
            "challenge": challenge,
            "csrf_token": token(page.text),
        }
        return self.client.post("/demo/cap-reader", data=form)

    def code(self, mode: str = "identify", challenge: str = "") -> str:
        shown = self.reader(mode, challenge)
        assert shown.status_code == 200, shown.text
        found = DISPLAY.search(shown.text)
        assert found is not None, shown.text
        return found.group(1)


def cap_settings(tmp_path: Path, *, demo: bool = True) -> Settings:
    issuer_file = tmp_path / "issuer-keys.json"
    if not issuer_file.exists():  # a cheap scrypt for tests; the file says which
        SoftwareIssuerKeys.generate().save(issuer_file, DEMO_ISSUER_PASSPHRASE, scrypt_n=2**10)
    return Settings(
        database_url=f"sqlite:///{tmp_path}/server.db",
        public_url="http://testserver",
        demo=demo,
        master_key_file=None if demo else tmp_path / "master.key",
        cap_issuer_file=issuer_file,
        cap_issuer_passphrase=None if demo else DEMO_ISSUER_PASSPHRASE,
        demo_cards_dir=tmp_path / "cards" if demo else None,
    )


@pytest.fixture
def cap_server(tmp_path: Path, migrated_sqlite: Path) -> Iterator[CapServer]:
    yield from _server(tmp_path, migrated_sqlite, None)


def _server(
    tmp_path: Path, template: Path, limits: RateLimits | None, **values: Any
) -> Iterator[CapServer]:
    """``values``: more :class:`Settings` fields (``rate_limits_enabled``...)."""
    shutil.copyfile(template, tmp_path / "server.db")
    settings = replace(cap_settings(tmp_path), **values)
    clock, keys = FixedClock(), DerivedKeys.generate()
    box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
    principal = Principal.parse(CLIENT, CAP_USER)
    line = seed_cap_card(box, settings, Operator("back-office"), principal, CAP_CODE)
    assert line is not None
    pin = PIN_LINE.search(line)
    assert pin is not None
    app = create_app(settings, securebox=box, keys=keys, limits=limits)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        assert settings.demo_cards_dir is not None
        yield CapServer(client, box, clock, settings.demo_cards_dir, pin.group(1))


PHONE = "+33639980042"
EMAIL = "camille.demo@example.com"
SMS_TOKEN = "s3cret-token"
DIGITS = re.compile(r"\b(\d{6})\b")


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 OK"

    def last_code(self, to: str) -> str:
        envelope = [e for e in self.received if to in e.rcpt_tos][-1]
        assert isinstance(envelope.content, bytes)
        found = DIGITS.search(str(message_from_bytes(envelope.content).get_payload()))
        assert found is not None
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


class Webhook(BaseHTTPRequestHandler):
    """The SMS provider: records each JSON body and its Authorization header."""

    received: ClassVar[list[tuple[str, dict[str, Any]]]]
    status: ClassVar[list[int]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(self.status[0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


class SmsProvider:
    def __init__(self, server: ThreadingHTTPServer, handler: type[Webhook]) -> None:
        self.url = f"http://{SMS_TOKEN}@127.0.0.1:{server.server_address[1]}/send"
        self.handler = handler

    @property
    def received(self) -> list[tuple[str, dict[str, Any]]]:
        return self.handler.received

    def fail_with(self, status: int) -> None:
        self.handler.status[0] = status

    def last_code(self, to: str) -> str:
        text = [body["text"] for _, body in self.received if body["to"] == to][-1]
        found = DIGITS.search(text)
        assert found is not None
        return found.group(1)


@pytest.fixture
def sms_provider() -> Iterator[SmsProvider]:
    handler = type("Hook", (Webhook,), {"received": [], "status": [200]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SmsProvider(server, handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    """The demo's policy: psd2-default that also accepts codes by SMS and e-mail."""
    home = tmp_path / "demo"
    home.mkdir()
    return Path(prepare(home)["SECUREBOX_POLICY"])


Enrol = Callable[[Securebox, FixedClock, Principal, Channel, str], None]


@pytest.fixture
def enrol(tmp_path: Path) -> Enrol:
    """Verify a destination as the library does (a code sent there comes back), through a
    file outbox, then move the clock past the hourly send throttle."""
    return partial(_enrol, FileOutbox(tmp_path / "enrolment.jsonl"))


def _enrol(
    outbox: FileOutbox,
    box: Securebox,
    clock: FixedClock,
    principal: Principal,
    channel: Channel,
    destination: str,
) -> None:
    oob = box.factors.oob
    issued = oob.issue(
        principal,
        channel=channel,
        destination=destination,
        purpose=ENROL_PURPOSE,
        reference=keyed_destination_key(oob.keys, channel, destination),
        gateway=outbox,
        code="246810",
    )
    assert issued.challenge is not None
    done = oob.confirm_destination(
        principal, issued.challenge.id, "246810", channel=channel, destination=destination
    )
    assert done.ok
    clock.advance(timedelta(hours=2))
