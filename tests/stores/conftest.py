"""Real databases for the store tests.

* SQLite: the migrations run once into a template file; every test gets a copy (fast).
* PostgreSQL: a uniquely named database is created for the test session (through the
  ``postgres`` or ``test`` database of the server on 127.0.0.1:5432, or the URL in
  ``SECUREBOX_TEST_POSTGRES_URL``), migrated once, emptied before every test and dropped at
  the end. It uses an ICU ``en-US`` default collation, so ordering by keys is tested against a
  collation that is not byte order. When no server answers the PostgreSQL tests are skipped
  with the reason, except in CI (``CI=true``), where they fail.

The fixtures are named ``*_store``/``*_engine`` so as not to replace the fixtures of
``tests/conftest.py`` (``store``, ``service``...) used by the other tests of this folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError

from securebox_auth.audit import GENESIS
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import METADATA
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing.store_contract import CONTRACT_AUDIT_KEY

POSTGRES_URL_ENV: Final = "SECUREBOX_TEST_POSTGRES_URL"
ADMIN_URLS: Final = (
    "postgresql://127.0.0.1:5432/postgres",
    "postgresql://127.0.0.1:5432/test",
)
AUDIT_KEY: Final = CONTRACT_AUDIT_KEY
BACKENDS: Final = ("memory", "sqlite", "postgresql")
DATABASES: Final = ("sqlite", "postgresql")


def _probe(url: str) -> str | None:
    """``None`` when the server answers, else why not."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        return f"{make_url(url).render_as_string()}: {str(exc.orig).strip().splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def _admin_url() -> str:
    explicit = os.environ.get(POSTGRES_URL_ENV)
    candidates = (explicit,) if explicit else ADMIN_URLS
    problems = []
    for url in candidates:
        problem = _probe(f"{url}{'&' if '?' in url else '?'}connect_timeout=3")
        if problem is None:
            return url
        problems.append(problem)
    reason = "PostgreSQL is not reachable (" + "; ".join(problems) + f"); set {POSTGRES_URL_ENV}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A database of the server to create and drop test databases from."""
    return _admin_url()


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A new empty database (ICU ``en-US`` collation where available), dropped afterwards."""
    name = f"securebox_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            try:
                conn.execute(
                    text(
                        f'CREATE DATABASE "{name}" TEMPLATE template0 '
                        "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                    )
                )
            except DBAPIError:  # a server without ICU: its default collation
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database for this test session (dropped at the end)."""
    with scratch_postgres(postgres_admin_url) as url:
        engine = create_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied by every test that needs a database."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


def empty_postgresql(engine: Engine) -> None:
    """Remove every row (the schema stays) and put the audit head back."""
    tables = ", ".join(t.name for t in METADATA.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables}"))
        conn.execute(
            text("INSERT INTO audit_chains (chain, sequence, mac, version) VALUES ('', 0, :g, 1)"),
            {"g": GENESIS},
        )


def sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "store.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@contextmanager
def scratch_sqlite_store(template: Path) -> Iterator[SqlStore]:
    """A SQL store on a fresh copy of ``template`` in a temporary folder, removed after
    (for a hypothesis example, which a function-scoped fixture would not renew)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(sqlite_copy(template, Path(folder)))
        try:
            yield SqlStore(engine, audit_key=AUDIT_KEY)
        finally:
            engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied."""
    engine = create_engine(postgres_url)
    try:
        empty_postgresql(engine)
    finally:
        engine.dispose()
    return postgres_url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database of each kind, without any schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.sqlite3"
        return
    with scratch_postgres(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database of each kind."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def sql_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def contract_store(request: pytest.FixtureRequest) -> Iterator[AuthStore]:
    """Each store implementation, empty, sealing with :data:`AUDIT_KEY`."""
    if request.param == "memory":
        yield MemoryStore(audit_key=AUDIT_KEY)
        return
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    engine = create_engine(request.getfixturevalue(fixture))
    yield SqlStore(engine, audit_key=AUDIT_KEY)
    engine.dispose()
