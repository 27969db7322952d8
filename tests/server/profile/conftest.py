"""The server on SQLite with passkeys (``https://bank.example``), a real SMTP relay
(aiosmtpd) and the local SMS provider as its gateways; a user with a TOTP application and
verified old addresses, and a browser that logs in with the code alone or strongly (code +
TOTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.securebox import Securebox
from tests.server.conftest import CLIENT, CODE, AppMaker, open_user, token
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SMS_TOKEN,
    SmsProvider,
    SmtpRelay,
    jobs_url,
    sms_hook,
    smtp_relay,
    verify,
    world,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import postgres_admin_url, sqlite_template  # noqa: F401

ORIGIN = "https://bank.example"
OLD_EMAIL = "old@client.example"
OLD_MOBILE = "+33611111111"


@dataclass
class Profile:
    client: TestClient
    box: Securebox
    clock: FixedClock
    principal: Principal
    totp: TotpCredential
    smtp: SmtpRelay
    sms: SmsProvider

    def totp_code(self) -> str:
        self.clock.advance(timedelta(seconds=30))
        return code_at(self.totp, self.clock.now())

    def login(
        self, *, strong: bool = True, client: TestClient | None = None, user: str = "01"
    ) -> TestClient:
        """Code login (code only: the renewal is recent), or code + TOTP when ``strong``."""
        c = client or self.client
        page = c.get("/login")
        page = c.post("/login", data={"client_id": CLIENT, "csrf_token": token(page.text)})
        answer = c.post(
            "/login/user",
            data={"client_id": CLIENT, "user_number": user, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        if strong:  # forget the renewal: the login asks a second factor
            old = self.clock.now() - timedelta(days=200)
            who = Principal.parse(CLIENT, user)
            self.box.store.commit([self.box.factors.renewal_change(who, "web", old)], [])
        page = c.get("/login/code")
        done = c.post(
            "/login/code",
            data={"code": CODE, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        if strong:
            page = c.get("/login/totp")
            done = c.post(
                "/login/totp",
                data={"code": self.totp_code(), "csrf_token": token(page.text)},
                follow_redirects=False,
            )
        assert done.headers.get("location") == "/home", done.text
        return c

    def second_user(self, user: str = "02") -> Principal:
        """Another user of the same subscription, with :data:`CODE` as code."""
        other = Principal.parse(CLIENT, user)
        letter = self.box.codes.create_account(Operator("back-office"), other, Role.USER)
        assert self.box.codes.change_code(CLIENT, user, letter.reveal(), CODE).changed
        self.box.store.commit([self.box.factors.renewal_change(other, "web", self.clock.now())], [])
        return other

    def other_browser(self) -> TestClient:
        other = TestClient(self.client.app, base_url=ORIGIN, raise_server_exceptions=False)
        other.headers["Accept-Language"] = "en"
        return other

    def post(self, page: str, action: str, data: dict[str, str] | None = None) -> Response:
        """Post ``action``'s form as found on ``page`` (its CSRF token)."""
        shown = self.client.get(page)
        assert shown.status_code == 200, shown.text
        form = {**(data or {}), "csrf_token": token(shown.text)}
        sent: Response = self.client.post(action, data=form, follow_redirects=False)
        return sent

    def actions(self) -> list[str]:
        return [s.event.action for s in self.box.audit_log(CLIENT)]


@pytest.fixture
def profile(make_app: AppMaker, request: pytest.FixtureRequest, tmp_path: Path) -> Profile:
    smtp: SmtpRelay = request.getfixturevalue("smtp_relay")
    sms: SmsProvider = request.getfixturevalue("sms_hook")
    port = sms.url.split(":")[2].split("/")[0]
    client, box, clock = make_app(
        public_url=ORIGIN,
        smtp_url=f"smtp+plain://127.0.0.1:{smtp.port}?from=box@bank.example",
        sms_url=f"http://{SMS_TOKEN}@127.0.0.1:{port}/send",
    )
    client.headers["Accept-Language"] = "en"
    principal, _ = open_user(box)
    enrolled = box.enrol_first_totp(Operator("back-office"), principal)
    assert box.confirm_totp(principal, code_at(enrolled.credential, clock.now()))
    outbox = FileOutbox(tmp_path / "setup.jsonl")
    verify(box, clock, outbox, principal, Channel.EMAIL, OLD_EMAIL)
    verify(box, clock, outbox, principal, Channel.SMS, OLD_MOBILE)
    return Profile(client, box, clock, principal, enrolled.credential, smtp, sms)
