"""Kill -9 of the server during administration changes (issue 18, "Faults").

A real ``securebox serve --workers 2`` (PostgreSQL, a scratch database; SQLite, a file). The
administrator (principal user 01) logs in through the API and proves the step-up of
``entitlements_management`` (the confidential code, five minutes: ``/api/v1/step-ups``, the
session rotated); an administration thread then, in each iteration, adds :data:`BATCH` users
(their codes sent by e-mail), changes their rights, regenerates their codes and removes the
users added in the iteration before (``/api/v1/admin/users``), while one uvicorn worker gets
SIGKILL at a random moment, a change in flight (every third iteration the whole server,
started again). A change whose answer was lost is not retried (the administrator would look
first).

After each iteration: every change answered 2xx is there (the user with its role, rights
and profile; the new rights; the user removed from the rights and disabled), no user is
half-added (an account of the subscription has its rights and its profile, a profile names
an account), and ``securebox audit verify`` passes.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from securebox_auth.entitlements.accounts import AccountStatus
from securebox_auth.entitlements.model import Operation
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.factors.totp_verify import code_at
from securebox_auth.identity import Principal
from securebox_server.db.schema import ADMIN_USER_PROFILES
from tests.server.box.conftest import CLIENT, PRINCIPAL
from tests.server.box.e2e.clock import ShiftedClock
from tests.server.box.e2e.conftest import LOOPS_ENV, LiveParts, fault_loops
from tests.server.box.e2e.faults import (
    BACK_OFFICE,
    AuditCli,
    Clients,
    InFlight,
    Server,
    raise_limits,
)
from tests.server.box.e2e.world import CODE
from tests.server.clients.helpers import bearer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        LOOPS_ENV not in os.environ,
        reason=f"kill -9 loops of the server: set {LOOPS_ENV}=N or run nox -s box_faults",
    ),
]
API = "/api/v1/admin/users"
#: Users added in each iteration.
BATCH = 3
RIGHTS = {"companies": "all", "documents": "total", "operations": ["view"]}
MORE = {"companies": "all", "documents": "total", "operations": ["view", "download"]}


def _profile(number: str) -> dict[str, str]:
    return {
        "civility": "mrs",
        "last_name": "Martin",
        "first_name": f"Claire {number}",
        "mobile": f"+336123456{number}",
        "phone": "",
        "email": f"user{number}@acme.example",
        "function": "Payroll",
    }


@dataclass
class Admin:
    """The administrator's API session, stepped up again whenever a change asks."""

    http: httpx.Client
    token: str
    #: the administrator's TOTP and the servers' settable clock: once the strong login is
    #: no longer recent, a step-up asks for a second factor after the code
    totp: TotpCredential
    clock: ShiftedClock
    flight: InFlight = field(default_factory=InFlight)
    #: (change, user) answered 2xx / whose answer was lost.
    done: list[tuple[str, str]] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)

    def send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        with self.flight:
            answer = self.http.request(method, path, json=body, headers=bearer(self.token))
        assert answer.status_code < 500, answer.text
        return answer

    def step_up(self, answer: httpx.Response) -> None:
        """Prove the step-up the ``401`` names with the confidential code."""
        href = answer.json()["step_up"]
        proved = self.send("POST", f"{href}/answers", {"method": "confidential_code", "code": CODE})
        assert proved.status_code == 200, proved.text
        if proved.json()["state"] == "challenged" and "totp" in proved.json()["methods"]:
            self.clock.advance(timedelta(seconds=30))  # a TOTP code of its own step
            code = code_at(self.totp, self.clock.now())
            proved = self.send("POST", f"{href}/answers", {"method": "totp", "code": code})
            assert proved.status_code == 200, proved.text
        assert proved.json()["state"] == "ready", proved.text
        self.token = proved.json()["session"]["token"]  # rotated (ADR 0012)

    def change(self, name: str, user: str, method: str, path: str, body: Any = None) -> None:
        """One change; a lost answer is recorded, not retried."""
        try:
            answer = self.send(method, path, body)
            if answer.status_code == 401:
                self.step_up(answer)
                answer = self.send(method, path, body)
        except httpx.TransportError:
            self.lost.append((name, user))
            return
        if answer.status_code == 404 and any(u == user for _, u in self.lost):
            return  # a change of a user whose addition was lost (maybe never made)
        assert answer.status_code in (200, 201), answer.text
        self.done.append((name, user))


def _users(iteration: int) -> list[str]:
    """The user numbers an iteration adds (:data:`BATCH` of them, from 10)."""
    return [f"{10 + iteration * BATCH + n}" for n in range(BATCH)]


def _changes(admin: Admin, iteration: int) -> None:
    """Add, edit and give a new code to this iteration's users; remove the previous one's."""
    for user in _users(iteration):
        new = {"user_number": user, "profile": _profile(user), "role": "user"}
        admin.change("add", user, "POST", API, {**new, "rights": RIGHTS, "channel": "email"})
        edit = {"profile": _profile(user), "role": "user", "rights": MORE}
        admin.change("edit", user, "PATCH", f"{API}/{user}", edit)
        admin.change("code", user, "POST", f"{API}/{user}/code", {"channel": "email"})
    for user in _users(iteration - 1) if iteration else []:
        admin.change("remove", user, "DELETE", f"{API}/{user}")


def _check(parts: LiveParts, admin: Admin) -> None:
    box = parts.box
    found = box.store.get_subscription(CLIENT)
    assert found is not None
    rights = found.value.rights
    with parts.documents.engine.connect() as conn:
        profiles = set(conn.execute(sa.select(ADMIN_USER_PROFILES.c.principal)).scalars())
    for name, user in admin.done:
        who = Principal.parse(CLIENT.value, user)
        account = box.store.get_account(who)
        assert account is not None, f"{name} {user}: acknowledged, no account"
        if name == "remove":
            assert account.value.status is AccountStatus.DISABLED
            assert who not in rights
            assert who.key not in profiles
        elif not any(n == "remove" and u == user for n, u in admin.done):
            assert who in rights, f"{name} {user}: acknowledged, no rights"
            assert who.key in profiles, f"{name} {user}: acknowledged, no profile"
            if name == "edit":
                assert Operation.DOWNLOAD in rights[who].operations
    # nothing half-applied, acknowledged or not: a user of the subscription added by the
    # administrator has both its rights and its profile, and a profile names such a user
    for number in range(10, 10 + BATCH * 100):
        who = Principal.parse(CLIENT.value, f"{number}")
        account = box.store.get_account(who)
        active = account is not None and account.value.status is not AccountStatus.DISABLED
        assert (who in rights) == active, f"{who.key}: account and rights disagree"
        assert (who.key in profiles) == active, f"{who.key}: account and profile disagree"


def _strong_login(parts: LiveParts, http: httpx.Client) -> tuple[str, TotpCredential]:
    """The administrator's TOTP enrolled by the back office, then a login with the code and
    a TOTP code (a strong login: the session can be stepped up); its token."""
    box = parts.box
    enrolled = box.enrol_first_totp(BACK_OFFICE, PRINCIPAL)
    assert box.confirm_totp(PRINCIPAL, code_at(enrolled.credential, parts.clock.now()))
    parts.clock.advance(timedelta(seconds=30))  # the next TOTP code
    who = {"client_id": CLIENT.value, "user_number": PRINCIPAL.user_number.value}
    flow = http.post("/api/v1/login/flows", json=who).json()["id"]
    answers = f"/api/v1/login/flows/{flow}/answers"
    coded = http.post(answers, json={"method": "confidential_code", "code": CODE})
    assert coded.json()["state"] == "second_factor", coded.text
    totp = code_at(enrolled.credential, parts.clock.now())
    done = http.post(answers, json={"method": "totp", "code": totp})
    assert done.json()["state"] == "done", done.text
    token: str = done.json()["session"]["token"]
    return token, enrolled.credential


def _loop(parts: LiveParts, loops: int) -> None:
    raise_limits(parts)
    rng = random.Random(18_0042)
    server = Server(parts, rng)
    server.start()
    audit = AuditCli(parts)
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.base, timeout=30, limits=limits) as http:
        token, totp = _strong_login(parts, http)
        admin = Admin(http, token, totp, parts.clock)
        for iteration in range(loops):
            clients = Clients()
            clients.start(_changes, admin, iteration)
            time.sleep(rng.uniform(0, 3))  # a change takes ~0.2 s (a code hashed, a mail)
            server.kill(admin.flight, least=1, group=iteration % 3 == 2)
            clients.join()
            _check(parts, admin)
            audit.verify()
    print(
        f"{loops} kills ({server.group_kills} of the whole server): {len(admin.done)} changes "
        f"acknowledged, {len(admin.lost)} answers lost: {admin.lost}"
    )
    server.stop()


def test_kill_9_the_server_during_administration_postgresql(live_parts: LiveParts) -> None:
    """ASVS 5.0 V2.3.3 (a change applied whole or not at all), V8.2.1 (the rights answered
    are the rights enforced), V16.4.2 (the audit trail intact)."""
    _loop(live_parts, fault_loops())


def test_kill_9_the_server_during_administration_sqlite(sqlite_parts: LiveParts) -> None:
    """As on PostgreSQL: ASVS 5.0 V2.3.3, V8.2.1, V16.4.2 (this one caught a user added
    without its profile, fixed: ``test_atomic_changes.py``)."""
    _loop(sqlite_parts, fault_loops())
