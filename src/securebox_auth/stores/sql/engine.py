"""Database configuration: one URL, and an engine set up for durable compare-and-swap.

The URL comes from ``SECUREBOX_DATABASE_URL``; without it, a SQLite file in the current
directory (``sqlite:///securebox.sqlite3``). Two databases are supported:

* **SQLite** (the embedded default). Every connection is set to WAL journalling with
  ``synchronous=FULL`` (a commit returns only once its WAL frames are on disk, so an
  acknowledged write survives a power cut; ``DatabaseSettings.sqlite_synchronous`` or a
  ``?synchronous=normal`` URL query trades that for commits ~2.5x cheaper, ADR 0027), a
  busy timeout (writers queue instead of failing at once), and ``foreign_keys=ON``. The
  driver's own transaction handling is switched off: read transactions start with
  ``BEGIN`` and write transactions with ``BEGIN IMMEDIATE``, which takes the single writer
  lock at the start, so a write transaction never fails half-way because another writer
  committed after it had read.
* **PostgreSQL** through psycopg 3, with SQLAlchemy's connection pool (sessions in UTC,
  optional statement timeout, connections recycled every 30 minutes). ``postgresql://`` and
  ``postgres://`` URLs are read as ``postgresql+psycopg://``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, event, make_url
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from securebox_auth.errors import ConfigurationError
from securebox_auth.stores.write_guard import check_write_allowed

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "SQLITE_SYNCHRONOUS",
    "WRITE_OPTION",
    "DatabaseSettings",
    "create_engine",
    "database_url",
    "dialect_of",
]

DATABASE_URL_ENV: Final = "SECUREBOX_DATABASE_URL"
DEFAULT_DATABASE_URL: Final = "sqlite:///securebox.sqlite3"
#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION: Final = "securebox_write"

_DIALECTS: Final = {"sqlite": "sqlite", "postgresql": "postgresql"}
#: The SQLite ``synchronous`` levels a store accepts (ADR 0027).
SQLITE_SYNCHRONOUS: Final = ("full", "normal")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings:
    """How to reach the database. Only ``url`` usually changes."""

    url: str = DEFAULT_DATABASE_URL
    #: SQLite: how long a writer waits for the write lock before giving up.
    busy_timeout_ms: int = 10_000
    #: PostgreSQL pool: connections kept open, extra ones allowed under load, and the wait
    #: for a free connection.
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout_s: float = 30.0
    #: PostgreSQL: statements slower than this are cancelled by the server (0: no limit).
    statement_timeout_ms: int = 0
    #: PostgreSQL: test every connection with a round trip when it leaves the pool. Off by
    #: default: it costs a round trip per request (~0.1 ms here), while a connection the
    #: server closed is detected on use anyway (the pool is then refreshed, and reads are
    #: retried once). Connections are recycled after ``pool_recycle_s``.
    pool_pre_ping: bool = False
    pool_recycle_s: int = 1800
    #: SQLite: ``"full"`` (the default) syncs the WAL at every commit, so an acknowledged
    #: write survives a power cut or an operating-system crash; ``"normal"`` syncs only at
    #: checkpoints: an acknowledged write still survives the process being killed
    #: (``kill -9``), but the last commits may be lost on power loss, giving back the
    #: attempts they counted (ADR 0027). A ``?synchronous=normal`` (or ``full``) query of a
    #: ``sqlite:///`` URL sets it as well. PostgreSQL keeps ``synchronous_commit`` on.
    sqlite_synchronous: str = "full"
    echo: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.busy_timeout_ms <= 600_000:
            raise ConfigurationError("busy_timeout_ms must be between 0 and 600000")
        if self.pool_size < 1 or self.max_overflow < 0 or self.pool_timeout_s <= 0:
            raise ConfigurationError("pool_size >= 1, max_overflow >= 0, pool_timeout_s > 0")
        if self.statement_timeout_ms < 0:
            raise ConfigurationError("statement_timeout_ms must be >= 0")
        if self.sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ConfigurationError("sqlite_synchronous is 'full' or 'normal'")


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The configured URL: ``SECUREBOX_DATABASE_URL``, else the default SQLite file."""
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_ENV, "").strip() or DEFAULT_DATABASE_URL


def _normalise(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("the database URL cannot be parsed") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _DIALECTS:
        raise ConfigurationError(
            f"unsupported database {backend!r}: use a sqlite:/// or postgresql:// URL"
        )
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise ConfigurationError("PostgreSQL is used through psycopg 3 (postgresql+psycopg)")
        return parsed.set(drivername="postgresql+psycopg")
    if driver not in ("pysqlite", ""):
        raise ConfigurationError("SQLite is used through the standard library's sqlite3")
    return parsed.set(drivername="sqlite+pysqlite")


def dialect_of(engine: Engine | Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return engine.dialect.name


def _synchronous(url: URL, settings: DatabaseSettings) -> tuple[URL, str]:
    """The URL without its ``synchronous`` query, and the level (the query's, else the
    settings')."""
    given = url.query.get("synchronous")
    if given is None:
        return url, settings.sqlite_synchronous
    level = (given if isinstance(given, str) else "").lower()
    if level not in SQLITE_SYNCHRONOUS:
        raise ConfigurationError("a sqlite:/// URL's synchronous is 'full' or 'normal'")
    return url.difference_update_query(["synchronous"]), level


def _sqlite_engine(url: URL, settings: DatabaseSettings) -> Engine:
    url, synchronous = _synchronous(url, settings)
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"echo": settings.echo}
    if memory:
        # One shared connection, or every checkout would see a different empty database.
        kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = sa_create_engine(url, **kwargs)
    busy = settings.busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        del record
        # The driver must not open transactions on its own: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise ConfigurationError("this SQLite file cannot use WAL journalling")
            cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        if write:
            check_write_allowed()  # before the lock is asked for (write_guard)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgresql_engine(url: URL, settings: DatabaseSettings) -> Engine:
    options = "-c timezone=UTC"
    if settings.statement_timeout_ms:
        options += f" -c statement_timeout={int(settings.statement_timeout_ms)}"
    engine = sa_create_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=settings.pool_recycle_s,
        connect_args={"options": options},
    )

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION, False):
            check_write_allowed()  # write_guard

    return engine


def create_engine(settings: DatabaseSettings | str | None = None) -> Engine:
    """An engine for ``settings`` (or a URL, or the configured URL when ``None``)."""
    if settings is None:
        settings = DatabaseSettings(url=database_url())
    elif isinstance(settings, str):
        settings = DatabaseSettings(url=settings)
    url = _normalise(settings.url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    return _postgresql_engine(url, settings)
