"""stores/sql/engine.py: configuration by URL, and the settings of every connection."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from securebox_auth.errors import ConfigurationError
from securebox_auth.stores.sql.engine import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    create_engine,
    database_url,
)


def test_the_url_comes_from_the_environment_else_a_sqlite_file() -> None:
    assert database_url({}) == DEFAULT_DATABASE_URL == "sqlite:///securebox.sqlite3"
    assert database_url({DATABASE_URL_ENV: "  "}) == DEFAULT_DATABASE_URL
    assert database_url({DATABASE_URL_ENV: "postgresql://db/x"}) == "postgresql://db/x"


@pytest.mark.parametrize(
    "url",
    ["postgresql://h/db", "postgres://h/db", "postgresql+psycopg://h/db"],
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    engine = create_engine(url)
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.pool.size() == DatabaseSettings().pool_size  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["mysql://h/db", "postgresql+psycopg2://h/db", "sqlite+aiosqlite:///x", "not a url"],
)
def test_other_databases_and_drivers_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        create_engine(url)


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        DatabaseSettings(busy_timeout_ms=-1)
    with pytest.raises(ConfigurationError):
        DatabaseSettings(pool_size=0)
    with pytest.raises(ConfigurationError):
        DatabaseSettings(statement_timeout_ms=-5)


def _pragmas(engine: Engine) -> dict[str, object]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        found = {
            name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
        cursor.close()
        return found
    finally:
        raw.close()


def test_every_sqlite_connection_is_durable_and_patient(tmp_path: Path) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{tmp_path}/x.db", busy_timeout_ms=1234))
    try:
        first = engine.raw_connection()  # hold one, so the next is a second connection
        try:
            for _ in range(2):
                assert _pragmas(engine) == {
                    "journal_mode": "wal",
                    "synchronous": 2,  # FULL: the WAL is synced at every commit
                    "busy_timeout": 1234,
                    "foreign_keys": 1,
                }
        finally:
            first.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("settings", "query", "level"),
    [
        ({}, "", 2),
        ({"sqlite_synchronous": "normal"}, "", 1),
        ({}, "?synchronous=normal", 1),
        ({}, "?synchronous=NORMAL", 1),
        ({"sqlite_synchronous": "normal"}, "?synchronous=full", 2),
    ],
)
def test_sqlite_synchronous_normal_is_a_setting(
    tmp_path: Path, settings: dict[str, str], query: str, level: int
) -> None:
    url = f"sqlite:///{tmp_path}/x.db{query}"
    engine = create_engine(DatabaseSettings(url=url, **settings))  # type: ignore[arg-type]
    try:
        assert _pragmas(engine)["synchronous"] == level  # FULL 2, NORMAL 1
        assert _pragmas(engine)["journal_mode"] == "wal"
        assert engine.url.query == {}
    finally:
        engine.dispose()


@pytest.mark.parametrize("level", ["off", "extra", "FULL "])
def test_other_synchronous_levels_are_refused(tmp_path: Path, level: str) -> None:
    with pytest.raises(ConfigurationError, match="synchronous"):
        create_engine(f"sqlite:///{tmp_path}/x.db?synchronous={level}")
    if level != "FULL ":
        with pytest.raises(ConfigurationError, match="sqlite_synchronous"):
            DatabaseSettings(url=f"sqlite:///{tmp_path}/x.db", sqlite_synchronous=level)


def test_sqlite_write_transactions_take_the_lock_first(tmp_path: Path) -> None:
    """A second writer waits (busy timeout) and then gives up, instead of failing later."""
    url = f"sqlite:///{tmp_path}/x.db"
    engine = create_engine(DatabaseSettings(url=url, busy_timeout_ms=50))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
        holder = engine.raw_connection()
        try:
            holder.cursor().execute("BEGIN IMMEDIATE")
            writer = engine.execution_options(securebox_write=True)
            with pytest.raises(Exception, match="locked"), writer.begin() as conn:
                conn.exec_driver_sql("SELECT 1")
            # a reader is not blocked by the writer (WAL)
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            holder.cursor().execute("ROLLBACK")
        finally:
            holder.close()
    finally:
        engine.dispose()


def test_an_in_memory_sqlite_database_is_one_shared_connection() -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        engine.dispose()


def test_postgresql_sessions_run_in_utc(postgres_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=postgres_url, statement_timeout_ms=5000))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
    finally:
        engine.dispose()
