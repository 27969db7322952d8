"""Real parts for the jobs tests: a database of each kind with the library's and the
server's tables (SQLite copied from a template; PostgreSQL emptied), a library on it with
the entitlement world of ``tests/entitlements/world.py`` (subscription A: the principal
user, an administrator, a payroll clerk of company C1 only, ...), an aiosmtpd relay on
loopback whose answers a test chooses, and an HTTP SMS provider speaking the webhook
protocol of ``docs/notifications.md`` (it records the ``Idempotency-Key`` header)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox, HttpSmsGateway, SmtpGateway
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.db.schema import BOX_DOCUMENTS, BOX_NOTIFICATIONS
from securebox_server.db.schema import METADATA as SERVER_METADATA
from securebox_server.demo_data import prepare
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.sender import NotificationSender
from tests.entitlements.world import ACCOUNTS, C1, NOW, A, sub_a
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    AUDIT_KEY,
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

SMS_TOKEN = "sms-t0ken"
PUBLIC_URL = "https://box.bank.example/"


def _empty(url: str) -> None:
    engine = create_engine(url)
    try:
        empty_postgresql(engine)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(SERVER_METADATA.tables)}"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def jobs_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind with both histories migrated."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("server_sqlite_url")
        return url
    url = request.getfixturevalue("server_postgres_url")
    _empty(url)
    return url


def verify(
    box: Securebox,
    clock: FixedClock,
    outbox: FileOutbox,
    who: Principal,
    channel: Channel,
    destination: str,
) -> None:
    """Verify ``destination`` the library's way (a code sent there comes back), then move
    the clock past the send throttle."""
    oob = box.factors.oob
    issued = oob.issue(
        who,
        channel=channel,
        destination=destination,
        purpose=ENROL_PURPOSE,
        reference=keyed_destination_key(oob.keys, channel, destination),
        gateway=outbox,
        code="246810",
    )
    assert issued.challenge is not None, issued.reason
    done = oob.confirm_destination(
        who, issued.challenge.id, "246810", channel=channel, destination=destination
    )
    assert done.ok
    clock.advance(timedelta(hours=2))


@dataclass
class World:
    """The library on the test database, the world's subscription A in it."""

    url: str
    engine: Engine
    box: Securebox
    clock: FixedClock
    outbox_file: FileOutbox

    def verify(self, who: Principal, channel: Channel, destination: str) -> None:
        verify(self.box, self.clock, self.outbox_file, who, channel, destination)

    def document(
        self,
        number: int,
        *,
        company: str = C1.value,
        theme: str = "payroll",
        status: str = "live",
        valid_until: datetime | None = None,
    ) -> str:
        """A box_documents row (and nothing else: the sender reads only this table)."""
        doc_id = f"doc{number:04d}"
        issued = NOW - timedelta(days=1, minutes=number)
        with self.engine.begin() as conn:
            conn.execute(
                BOX_DOCUMENTS.insert().values(
                    id=doc_id,
                    client_id=A.value,
                    company=company,
                    sender="bank",
                    type="stmt",
                    theme=theme,
                    label=f"Relevé n°{number}",
                    issued_at=issued,
                    published_at=issued,
                    valid_until=valid_until,
                    warn_at=None,
                    warned_at=None,
                    retention_class="bank",
                    retain_until=issued + timedelta(days=3650),
                    legal_hold=False,
                    digest="0" * 64,
                    size=10,
                    media_type="application/pdf",
                    filename=f"{doc_id}.pdf",
                    status=status,
                    expired_at=None,
                    deleted_at=None,
                    deletion_reason=None,
                )
            )
        return doc_id

    def notify(
        self, doc_id: str, user: str | None, *, kind: str = "new_document", company: str = C1.value
    ) -> str:
        """A pending outbox row, as the publication writes it."""
        row_id = secrets.token_hex(16)
        with self.engine.begin() as conn:
            conn.execute(
                BOX_NOTIFICATIONS.insert().values(
                    id=row_id,
                    kind=kind,
                    document_id=doc_id,
                    client_id=A.value,
                    company=company,
                    user_number=user,
                    status="pending",
                    attempts=0,
                    next_attempt_at=self.clock.now(),
                    lease_until=None,
                    leased_by=None,
                    created_at=self.clock.now(),
                    sent_at=None,
                    channel=None,
                    message_id=None,
                    last_error=None,
                )
            )
        return row_id

    def rows(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(BOX_NOTIFICATIONS)).mappings().all()
        return {r["id"]: dict(r) for r in found}

    def statuses(self) -> dict[str, str]:
        return {i: r["status"] for i, r in self.rows().items()}


@pytest.fixture
def world(jobs_url: str, tmp_path: Path) -> Iterator[World]:
    engine = create_engine(jobs_url)
    store = SqlStore(engine, audit_key=AUDIT_KEY)
    store.commit(
        [PutSubscription(A, 0, sub_a()), *(PutAccount(p, 0, a) for p, a in ACCOUNTS.items())], []
    )
    home = tmp_path / "demo"
    home.mkdir()
    clock = FixedClock(NOW + timedelta(days=1))
    box = Securebox.from_policy(
        Path(prepare(home)["SECUREBOX_POLICY"]),
        store=store,
        keys=DerivedKeys.generate(),
        clock=clock,
        argon2=PROFILE_TESTING,
    )
    yield World(jobs_url, engine, box, clock, FileOutbox(tmp_path / "enrol.jsonl"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Relay:
    """An aiosmtpd handler: accepts (``250``) unless told to answer otherwise."""

    answer: str = "250 OK"
    received: list[Envelope] = field(default_factory=list)
    #: Seconds each message takes to be accepted (a slow relay).
    delay: float = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.answer.startswith("250"):
            self.received.append(envelope)
        return self.answer

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(_class=EmailMessage, policy=default)
        return [parser.parsebytes(e.content) for e in self.received if isinstance(e.content, bytes)]


@dataclass
class SmtpRelay:
    port: int
    relay: Relay

    def gateway(self) -> SmtpGateway:
        return SmtpGateway(
            host="127.0.0.1", port=self.port, sender="box@bank.example", starttls=False
        )


@pytest.fixture
def smtp_relay() -> Iterator[SmtpRelay]:
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpRelay(controller.port, relay)
    finally:
        controller.stop()


class SmsHook(BaseHTTPRequestHandler):
    """The SMS provider: ``POST /send`` with a bearer token and a JSON body
    ``{"to", "text", "reference"}``; answers 202, or the status a test sets."""

    received: ClassVar[list[dict[str, Any]]]
    status: ClassVar[list[int]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        authorised = self.headers.get("Authorization") == f"Bearer {SMS_TOKEN}"
        status = self.status[0] if authorised else 401
        if status < 300:
            body["idempotency_key"] = self.headers.get("Idempotency-Key")
            self.received.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class SmsProvider:
    url: str
    handler: type[SmsHook]

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.handler.received

    def answer(self, status: int) -> None:
        self.handler.status[0] = status

    def gateway(self) -> HttpSmsGateway:
        return HttpSmsGateway(url=self.url, token=SMS_TOKEN)


@pytest.fixture
def sms_hook() -> Iterator[SmsProvider]:
    handler = type("Hook", (SmsHook,), {"received": [], "status": [202]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SmsProvider(f"http://127.0.0.1:{server.server_address[1]}/send", handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sender(
    world: World,
    smtp: SmtpRelay | None = None,
    sms: SmsProvider | None = None,
    *,
    worker: str = "w1",
    **options: Any,
) -> NotificationSender:
    return NotificationSender(
        outbox=Outbox(world.engine, worker),
        recipients=Recipients(world.engine, world.box),
        clock=world.clock,
        public_url=PUBLIC_URL,
        domain="bank.example",
        mailer=smtp.gateway() if smtp else None,
        sms=sms.gateway() if sms else None,
        draw=lambda: 0.0,
        **options,
    )


def at(world: World) -> datetime:
    return world.clock.now()
