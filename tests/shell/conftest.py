"""The stores the shell is tested on: memory and SQLite (PostgreSQL where a race needs it),
and the store fixtures of ``tests/stores`` for the entry point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    AUDIT_KEY,
    contract_store,
    fresh_postgres_url,
    postgres_admin_url,
    postgres_url,
    sqlite_copy,
    sqlite_template,
    sqlite_url,
)


@pytest.fixture(params=["memory", "sqlite"])
def shell_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthStore]:
    """An empty store of each kind the enrolment tests run on."""
    if request.param == "memory":
        yield MemoryStore(audit_key=AUDIT_KEY)
        return
    engine = create_engine(sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path))
    yield SqlStore(engine, audit_key=AUDIT_KEY)
    engine.dispose()
