"""The server with passkeys configured (``https://bank.example``), a user with a TOTP
application and a passkey, and helpers that walk the step-up pages like a browser."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.passkey_model import RelyingParty
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.app import create_app
from securebox_server.db import migrate as server_migrate
from securebox_server.db.schema import STEPUP_ORDERS
from securebox_server.stepup.orders import OrderBook
from tests.cards.capworld import CapWorld, make_world
from tests.server.boxes import build_box, enrol_passkey
from tests.server.conftest import CLIENT, CODE, open_user, token

ORIGIN = "https://bank.example"
RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({ORIGIN}))
ORDER = re.compile(r"/operations/([A-Za-z0-9_-]+)")


@pytest.fixture(scope="session")
def stepup_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template with the library's and the server's tables."""
    path = tmp_path_factory.mktemp("stepup") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        server_migrate.upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@dataclass
class World:
    client: TestClient
    box: Securebox
    clock: FixedClock
    principal: Principal
    totp: TotpCredential
    passkey: SoftAuthenticator
    url: str

    def totp_code(self) -> str:
        self.clock.advance(timedelta(seconds=30))
        return totp_code_at(self.totp, self.clock.now())

    def login(self, *, strong: bool = False, user: str = "01") -> None:
        """Code login (code only: the renewal is recent), or code + TOTP when ``strong``."""
        page = self.client.get("/login")
        page = self.client.post(
            "/login", data={"client_id": CLIENT, "csrf_token": token(page.text)}
        )
        answer = self.client.post(
            "/login/user",
            data={"client_id": CLIENT, "user_number": user, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        if strong:  # forget the renewal: the login asks a second factor
            old = self.clock.now() - timedelta(days=200)
            self.box.store.commit([self.box.factors.renewal_change(self.principal, "web", old)], [])
        page = self.client.get("/login/code")
        done = self.client.post(
            "/login/code",
            data={"code": CODE, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        if strong:
            page = self.client.get("/login/totp")
            done = self.client.post(
                "/login/totp",
                data={"code": self.totp_code(), "csrf_token": token(page.text)},
                follow_redirects=False,
            )
        assert done.headers.get("location") == "/home", done.text

    def enter(self, path: str, data: dict[str, str]) -> tuple[str, Response]:
        """Post an operation's form; the order id and the approval page."""
        form = self.client.get(path)
        assert form.status_code == 200, form.text
        sent = self.client.post(
            path, data={**data, "csrf_token": token(form.text)}, follow_redirects=False
        )
        assert sent.status_code == 303, sent.text
        found = ORDER.fullmatch(sent.headers["location"])
        assert found is not None
        return found.group(1), self.client.get(sent.headers["location"])

    def prove(self, order: str, method: str, **data: str) -> Response:
        page = self.client.get(f"/operations/{order}/proof/{method}")
        assert page.status_code == 200, page.text
        if method == "passkey_uv":
            options = re.search(r'data-options="([^"]+)"', page.text)
            ceremony = re.search(r'name="ceremony" value="([^"]+)"', page.text)
            assert options is not None
            assert ceremony is not None
            response = self.passkey.get(json.loads(html.unescape(options.group(1))))
            data = {"ceremony": ceremony.group(1), "response": json.dumps(response)}
        sent: Response = self.client.post(
            f"/operations/{order}/proof/{method}",
            data={**data, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        return sent

    def book(self) -> OrderBook:
        found: OrderBook = self.client.app.state.orders  # type: ignore[attr-defined]
        return found

    def tamper(self, order: str, *, amount: str, line: int | None = None) -> None:
        """Change a stored order behind the pages' back (what a bug or an attacker with
        write access to the order table would do)."""
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                raw = conn.execute(
                    sa.select(STEPUP_ORDERS.c.details).where(STEPUP_ORDERS.c.id == order)
                ).scalar_one()
                details = json.loads(raw)
                if line is None:
                    details["amount"] = amount
                else:
                    details["payments"][line]["amount"] = amount
                conn.execute(
                    STEPUP_ORDERS.update()
                    .where(STEPUP_ORDERS.c.id == order)
                    .values(details=json.dumps(details))
                )
        finally:
            engine.dispose()

    def enter_role(self, user: str, role: str) -> tuple[str, Response]:
        page = self.client.get("/entitlements")
        sent = self.client.post(
            "/entitlements/role",
            data={"user": user, "role": role, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        found = ORDER.fullmatch(sent.headers["location"])
        assert found is not None
        return found.group(1), self.client.get(sent.headers["location"])

    def execute(self, order: str) -> Response:
        page = self.client.get(f"/operations/{order}")
        done: Response = self.client.post(
            f"/operations/{order}/execute", data={"csrf_token": token(page.text)}
        )
        return done


@pytest.fixture
def world(tmp_path: Path, stepup_sqlite: Path) -> Iterator[World]:
    built = build_box(tmp_path, stepup_sqlite, {"public_url": ORIGIN}, relying_party=RP)
    box, clock = built.box, built.clock
    principal, _ = open_user(box)
    enrolled = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, totp_code_at(enrolled.credential, clock.now()))
    authenticator = enrol_passkey(box, RP, principal, clock)
    app = create_app(built.settings, securebox=box, keys=built.keys)
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    client.headers["Accept-Language"] = "en"
    try:
        yield World(client, box, clock, principal, enrolled.credential, authenticator, built.url)
    finally:
        client.close()


@pytest.fixture
def cap_world(tmp_path: Path, stepup_sqlite: Path) -> Iterator[tuple[World, CapWorld]]:
    """The same server with a CAP issuer and the user's card (software EMV card)."""
    cards = make_world("uk")
    built = build_box(tmp_path, stepup_sqlite, {"public_url": ORIGIN}, cap_issuer=cards.issuer)
    box, clock, keys, settings, url = built.box, built.clock, built.keys, built.settings, built.url
    principal, _ = open_user(box)
    enrolled = box.enrol_first_totp(Operator("back-office"), principal)
    record = cards.record
    box.factors.put_state(principal, fc.CAP_CARD, record.card_id, fc.cap_card_to_dict(record))
    app = create_app(settings, securebox=box, keys=keys)
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    client.headers["Accept-Language"] = "en"
    passkey = SoftAuthenticator(origin=ORIGIN, rp_id="bank.example")
    try:
        yield World(client, box, clock, principal, enrolled.credential, passkey, url), cards
    finally:
        client.close()
