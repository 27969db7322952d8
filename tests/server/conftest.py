"""Build the server on a fresh SQLite database with a fixed clock and fast argon2id.

``make_app(public_url=..., limits=..., **settings)`` returns ``(TestClient, Securebox,
FixedClock)``; the rate limits are off unless ``rate_limits_enabled=True`` (the database
limiter, on the fixed clock) or ``limits=`` is given;
``login_form`` helpers fill the real forms (the CSRF token is read from the page).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.app import create_app
from securebox_server.db import migrate as server_migrate
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from securebox_server.wiring import build_securebox

CLIENT = "123456789"
CODE = "47120938"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')

AppMaker = Callable[..., tuple[TestClient, Securebox, FixedClock]]


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied by every test (migrating once saves ~0.2 s a test)."""
    path = tmp_path_factory.mktemp("server") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        server_migrate.upgrade(engine)  # the server's own tables (securebox_server.db)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def make_app(tmp_path: Path, migrated_sqlite: Path) -> Iterator[AppMaker]:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")

    clients: list[TestClient] = []

    def build(
        public_url: str = "http://testserver",
        limits: RateLimits | None = None,
        **values: Any,
    ) -> tuple[TestClient, Securebox, FixedClock]:
        """``values``: more :class:`Settings` fields (policy, smtp_url, sms_url, outbox...);
        the database rate limits are off unless ``rate_limits_enabled=True``."""
        values.setdefault("rate_limits_enabled", False)
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/server.db",
            public_url=public_url,
            **{"demo": True, **values},
        )
        clock = FixedClock()
        keys = DerivedKeys.generate()
        box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
        app = create_app(settings, securebox=box, keys=keys, limits=limits)
        client = TestClient(app, base_url=public_url, raise_server_exceptions=False)
        clients.append(client)
        return client, box, clock

    yield build
    for client in clients:
        client.close()


def token(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def open_user(
    box: Securebox,
    user: str = "01",
    *,
    change: bool = True,
    strong: bool = True,
    client_id: str = CLIENT,
) -> tuple[Principal, str]:
    """A subscription's principal user and its one-time code; the code is changed to
    :data:`CODE` unless ``change`` is false; ``strong``: a strong login is recent."""
    principal = Principal.parse(client_id, user)
    letter = box.codes.create_subscription(Operator("back-office"), principal)
    if change:
        assert box.codes.change_code(client_id, user, letter.reveal(), CODE).changed
    if strong:
        change_ = box.factors.renewal_change(principal, "web", box.clock.now())
        box.store.commit([change_], [])
    return principal, letter.reveal()


def identify(client: TestClient, client_id: str = CLIENT, user: str = "01") -> None:
    page = client.get("/login")
    page = client.post("/login", data={"client_id": client_id, "csrf_token": token(page.text)})
    assert page.status_code == 200, page.text
    answer = client.post(
        "/login/user",
        data={"client_id": client_id, "user_number": user, "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def submit_code(client: TestClient, code: str = CODE):  # type: ignore[no-untyped-def]
    page = client.get("/login/code")
    assert page.status_code == 200, page.text
    return client.post(
        "/login/code", data={"code": code, "csrf_token": token(page.text)}, follow_redirects=False
    )
