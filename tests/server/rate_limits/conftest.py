"""Databases with the server's tables (their own migration run), SQLite and PostgreSQL.

SQLite: the library's template copied (so the store and the limits share one file, as in
production), then the server's migrations. PostgreSQL: one scratch database per test session
with both histories, emptied before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from securebox_auth.clock import FixedClock
from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate
from securebox_server.db.schema import METADATA
from securebox_server.rate_limits.storage import SqlRateLimitStorage
from tests.shell.portal import T0
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    postgres_admin_url,
    scratch_postgres,
    sqlite_copy,
    sqlite_template,
)


@pytest.fixture(scope="session")
def server_postgres_url(postgres_admin_url: str) -> Iterator[str]:  # noqa: F811
    """A PostgreSQL database with the library's and the server's tables."""
    with scratch_postgres(postgres_admin_url) as url:
        engine = create_engine(url)
        try:
            store_migrate.upgrade(engine)
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def server_sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:  # noqa: F811
    url = sqlite_copy(sqlite_template, tmp_path)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


def _empty(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(METADATA.tables)}"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def limits_url(request: pytest.FixtureRequest) -> str:
    """A database of each kind with the server's tables, empty."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("server_sqlite_url")
        return url
    url = request.getfixturevalue("server_postgres_url")
    _empty(url)
    return url


@pytest.fixture
def limits_engine(limits_url: str) -> Iterator[Engine]:
    engine = create_engine(limits_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def storage(limits_engine: Engine, clock: FixedClock) -> SqlRateLimitStorage:
    return SqlRateLimitStorage(limits_engine, clock=clock)
