"""The step-up world of ``tests/server/stepup`` (principal user 01 with TOTP and a passkey)
with an SMTP relay on loopback (aiosmtpd), a folder for code letters, and helpers that walk
an administrative change through its approval like a browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_server.app import create_app
from tests.server.boxes import build_box, enrol_passkey
from tests.server.conftest import CLIENT, CODE, open_user, token
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SmtpRelay,
    jobs_url,
    smtp_relay,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.server.stepup.conftest import ORDER, ORIGIN, RP, World, stepup_sqlite  # noqa: F401
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    postgres_admin_url,
    sqlite_template,
)

PROFILE = {
    "civility": "mrs",
    "last_name": "Martin",
    "first_name": "Claire",
    "mobile": "+33612345678",
    "phone": "",
    "email": "claire.martin@company.example",
    "function": "Payroll",
}


class AdminWorld(World):
    letters: Path
    totps: dict[Principal, TotpCredential]
    relay: SmtpRelay

    def user(self, number: str, role: Role = Role.USER, *, code: bool = True) -> Principal:
        """A user of the subscription made by the back office (their code changed)."""
        who = Principal.parse(CLIENT, number)
        letter = self.box.codes.create_account(Operator("back-office"), who, role)
        if code:
            assert self.box.codes.change_code(CLIENT, number, letter.reveal(), CODE).changed
        enrolled = self.box.enrol_first_totp(Operator("back-office"), who)
        assert self.box.confirm_totp(who, totp_code_at(enrolled.credential, self.clock.now()))
        self.totps[who] = enrolled.credential
        renewal = self.box.factors.renewal_change(who, "web", self.clock.now())
        self.box.store.commit([renewal], [])  # a strong login is recent: the code suffices
        return who

    def prove_as(self, who: Principal, sent: Response) -> Response:
        """Prove the step-up of a change posted by ``who`` with the code and their TOTP,
        and execute it."""
        assert sent.status_code == 303, sent.text
        order = sent.headers["location"].rsplit("/", 1)[1]
        for _ in range(3):
            page = self.client.get(f"/operations/{order}").text
            if "/execute" in page:
                break
            offered = re.findall(rf"/operations/{order}/proof/(\w+)", page)
            method = "totp" if "totp" in offered else "confidential_code"
            assert method in offered, offered
            self.clock.advance(timedelta(seconds=30))
            code = (
                CODE
                if method == "confidential_code"
                else totp_code_at(self.totps[who], self.clock.now())
            )
            assert self.prove(order, method, code=code).status_code == 303
        return self.execute(order)

    def post(self, path: str, data: Mapping[str, object], page: str | None = None) -> Response:
        form = self.client.get(page or path)
        assert form.status_code == 200, form.text
        sent: Response = self.client.post(
            path, data={**data, "csrf_token": token(form.text)}, follow_redirects=False
        )
        return sent

    def approve(self, sent: Response) -> Response:
        """Prove the step-up of a change just posted (passkey) and execute it."""
        assert sent.status_code == 303, sent.text
        found = ORDER.fullmatch(sent.headers["location"])
        assert found is not None
        order = found.group(1)
        if "/execute" not in self.client.get(f"/operations/{order}").text:
            assert self.prove(order, "passkey_uv").status_code == 303
        return self.execute(order)


Build = Callable[..., AdminWorld]


@pytest.fixture
def admin_world(
    tmp_path: Path,
    stepup_sqlite: Path,  # noqa: F811 (the fixture imported above)
    smtp_relay: SmtpRelay,  # noqa: F811
) -> Iterator[Build]:
    clients: list[TestClient] = []

    def build(**settings: object) -> AdminWorld:
        letters = tmp_path / "letters"
        values = {
            "public_url": ORIGIN,
            "smtp_url": f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example",
            "code_letters_dir": letters,
            **settings,
        }
        built = build_box(tmp_path, stepup_sqlite, values, relying_party=RP)
        box, clock = built.box, built.clock

        principal, _ = open_user(box)
        enrolled = box.enrol_first_totp(Operator("back-office"), principal)
        assert box.confirm_totp(principal, totp_code_at(enrolled.credential, clock.now()))
        authenticator = enrol_passkey(box, RP, principal, clock)
        app = create_app(built.settings, securebox=box, keys=built.keys)
        client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
        client.headers["Accept-Language"] = "en"
        clients.append(client)
        world = AdminWorld(
            client, box, clock, principal, enrolled.credential, authenticator, built.url
        )
        world.letters = letters
        world.totps = {}
        world.relay = smtp_relay
        return world

    yield build
    for client in clients:
        client.close()


CODE_IN = re.compile(r"one-time confidential code: ([0-9]+)")

# The companies' and third parties' world (tests/server/admin/world.py).
from tests.server.admin.world import admin  # noqa: E402, F401 (a fixture, found by name)
from tests.server.box.conftest import box_url  # noqa: E402, F401 (a fixture, found by name)
from tests.server.jobs.conftest import sms_hook  # noqa: E402, F401 (a fixture, found by name)
from tests.stores.conftest import empty_postgresql  # noqa: E402, F401 (a fixture, found by name)
