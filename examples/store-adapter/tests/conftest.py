"""Empty databases for the adapter: SQLite files, and PostgreSQL databases copied from a
migrated template (``CREATE DATABASE ... TEMPLATE``: a few hundred milliseconds each).

PostgreSQL is the server on 127.0.0.1:5432 (its ``postgres`` or ``test`` database as the
administration database) or ``PORTAL_TEST_POSTGRES_URL``. When none answers the PostgreSQL
tests are skipped with the reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from securebox_auth.stores.sql.engine import create_engine
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError

from portal_store.database import prepare_database

ADMIN_URLS: Final = (
    "postgresql://127.0.0.1:5432/postgres",
    "postgresql://127.0.0.1:5432/test",
)


def _admin_url() -> str:
    explicit = os.environ.get("PORTAL_TEST_POSTGRES_URL")
    problems = []
    for url in (explicit,) if explicit else ADMIN_URLS:
        engine = create_engine(url + "?connect_timeout=3")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except DBAPIError as exc:
            problems.append(f"{url}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    reason = "PostgreSQL is not reachable: " + "; ".join(problems)
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _admin(url: str) -> Engine:
    return create_engine(url).execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "portal.sqlite3"
    prepare_database(f"sqlite:///{path}").dispose()
    return path


@contextmanager
def scratch_database(admin_url: str, prefix: str, template: str = "") -> Iterator[str]:
    """A new database (a copy of ``template`` when given), its name; dropped at the end."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = _admin(admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    """(administration URL, name of a migrated template database), dropped at the end."""
    admin_url = _admin_url()
    with scratch_database(admin_url, "portal_template") as name:
        prepare_database(_url(admin_url, name)).dispose()  # no connection left on a template
        yield admin_url, name


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, prepared database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "portal.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        made = create_engine(f"sqlite:///{path}")
        yield made
        made.dispose()
        return
    admin_url, template = request.getfixturevalue("postgres_template")
    with scratch_database(admin_url, "portal_test", template) as name:
        made = create_engine(_url(admin_url, name))
        yield made
        made.dispose()
