"""A migrated database of each kind (SQLite per test, PostgreSQL per session: tests use
fresh random ids, so they never meet each other's rows) and the API clients on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server.clients.service import ApiClients
from securebox_server.clients.wiring import build_clients
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox
from tests.server.rate_limits.conftest import server_postgres_url, server_sqlite_url
from tests.stores.conftest import postgres_admin_url, sqlite_template

__all__ = [
    "Parts",
    "postgres_admin_url",
    "server_postgres_url",
    "server_sqlite_url",
    "sqlite_template",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "server_sqlite_url" if request.param == "sqlite" else "server_postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@dataclass(frozen=True, slots=True)
class Parts:
    clients: ApiClients
    box: Securebox
    clock: FixedClock
    url: str


@pytest.fixture
def parts(database_url: str, tmp_path: Path) -> Iterator[Parts]:
    """The library and the API clients on one database, on a fixed clock."""
    del tmp_path
    settings = Settings(database_url=database_url, public_url="https://box.example", demo=True)
    clock = FixedClock()
    box = build_securebox(
        settings, clock=clock, argon2=PROFILE_TESTING, keys=DerivedKeys.generate()
    )
    clients = build_clients(settings, box)
    assert clients is not None
    yield Parts(clients, box, clock, database_url)
    clients.store.engine.dispose()
