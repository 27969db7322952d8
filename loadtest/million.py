"""Many documents behind the home page and the search page (``--documents 1000000``): the
reader's statements bulk-inserted with one ``INSERT ... SELECT`` a table (a row generator:
``generate_series`` on PostgreSQL, a recursive CTE on SQLite) into the library's catalogue
(``documents``) and the box (``box_documents``), the catalogue's indexes built after the rows
and its per-cell counts recounted (``SqlCatalogue.refresh_counts``), as the benchmarks'
``box_world.py`` loads its bank.

The rows share the digest of the run's first published PDF (:func:`first_body`): listing never
reads a body, and a download of a bulk row would serve the same bytes. Their ``issued_at``
go back a minute each from :data:`NEWEST_BULK`, so the documents the run publishes are the
newest; the page still scans a 1,000,000-row catalogue by its indexes.

Above :data:`CACHED_FROM` rows the loaded database is kept between runs (a PostgreSQL
template database ``securebox_load_docs_<n>_v<FORMAT>_<schemas>``, a SQLite file under
``.cache/load/``) and each run starts from a copy of it (``CREATE DATABASE ... TEMPLATE``,
a file copy): the run writes sessions, documents and audit events, the cache stays as built.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from tests.server.box.conftest import C1, C2
from tests.server.box.e2e.world import STATEMENT

from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import DOCUMENTS
from securebox_server.box.samples import sample_pdf
from securebox_server.db import migrate as server_migrate
from securebox_server.wiring import migrate_database

__all__ = [
    "CACHED_FROM",
    "PUBLISHED",
    "bulk_documents",
    "database",
    "first_body",
    "split",
]

FORMAT: Final = 1
#: At most this many documents are published through the API (real PDFs of 100 KB to 2 MB,
#: the downloads' set); the rest are bulk rows.
PUBLISHED: Final = 24
#: From this many bulk rows, the loaded database is cached.
CACHED_FROM: Final = 100_000
NEWEST_BULK: Final = datetime(2026, 1, 1, tzinfo=UTC)
CACHE: Final = Path(".cache/load")
#: The reader's subscription (``deployment.READER_CLIENT``).
READER: Final = "123456789"


def split(documents: int) -> tuple[int, int]:
    """``documents`` as (published through the API, bulk rows)."""
    if documents < 1:
        raise ValueError("a load run seeds at least one document")
    published = min(documents, PUBLISHED)
    return published, documents - published


def body_of(n: int, size: int) -> bytes:
    """The ``n``-th seeded statement, about ``size`` bytes (deterministic)."""
    return sample_pdf(title=f"Statement {n}", lines=[f"Statement {n}"], seed=n, size_hint=size)


def first_body() -> bytes:
    """The first published PDF (100 KB): the bulk rows' body."""
    return body_of(0, 100_000)


def _rows_sql(postgresql: bool, table: str, columns: str, values: str) -> str:
    if postgresql:
        return (
            f"INSERT INTO {table} ({columns}) SELECT {values} "  # noqa: S608 - our names
            "FROM generate_series(1, :n) AS g(i)"
        )
    return (
        f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) "  # noqa: S608
        f"INSERT INTO {table} ({columns}) SELECT {values} FROM g"
    )


def bulk_documents(engine: Engine, count: int, digest: str, size: int) -> None:
    """``count`` statements of the reader (companies C1 and C2 in turn) in the catalogue and
    the box of a migrated database, the catalogue's indexes dropped and rebuilt around them."""
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        issued = "(CAST(:newest AS timestamptz) - i * interval '1 minute')"
        published = f"({issued} + interval '2 hours')"
        retain = f"({issued} + interval '10 years')"
        ident = "'b' || lpad(CAST(i AS text), 9, '0')"
    else:  # SQLAlchemy's SQLite DateTime text: 'YYYY-MM-DD HH:MM:SS.ffffff'
        issued = "(datetime(:newest, '-' || i || ' minutes') || '.000000')"
        published = "(datetime(:newest, '-' || i || ' minutes', '+2 hours') || '.000000')"
        retain = "(datetime(:newest, '-' || i || ' minutes', '+10 years') || '.000000')"
        ident = "('b' || substr('000000000' || i, -9))"
    company = f"(CASE WHEN i % 2 = 0 THEN '{C1.value}' ELSE '{C2.value}' END)"
    label = "'Statement ' || i"
    theme = STATEMENT.theme.name
    newest = NEWEST_BULK.isoformat() if postgresql else NEWEST_BULK.strftime("%Y-%m-%d %H:%M:%S")
    catalogue = _rows_sql(
        postgresql,
        "documents",
        "id, client_id, company, theme, label, label_folded, issued_at",
        f"{ident}, '{READER}', {company}, '{theme}', {label}, lower({label}), {issued}",
    )
    box = _rows_sql(
        postgresql,
        "box_documents",
        "id, client_id, company, sender, type, theme, label, issued_at, published_at, "
        "valid_until, warn_at, warned_at, retention_class, retain_until, legal_hold, digest, "
        "size, media_type, filename, status, expired_at, deleted_at, deletion_reason",
        f"{ident}, '{READER}', {company}, '{STATEMENT.sender}', '{STATEMENT.type}', "
        f"'{theme}', {label}, {issued}, {published}, NULL, NULL, NULL, "
        f"'{STATEMENT.retention_class}', {retain}, false, :digest, :size, 'application/pdf', "
        f"{ident} || '.pdf', 'live', NULL, NULL, NULL",
    )
    params = {"n": count, "newest": newest, "digest": digest, "size": size}
    with engine.begin() as conn:
        for index in DOCUMENTS.indexes:
            index.drop(conn)
        conn.execute(text(catalogue), params)
        conn.execute(text(box), params)
        for index in DOCUMENTS.indexes:
            index.create(conn)
    SqlCatalogue(engine).refresh_counts()
    if postgresql:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def _load(url: str, bulk: int) -> None:
    migrate_database(url)
    if bulk:
        body = first_body()
        engine = create_engine(url)
        try:
            bulk_documents(engine, bulk, hashlib.sha256(body).hexdigest(), len(body))
        finally:
            engine.dispose()


def _shape(bulk: int) -> str:
    heads = f"{store_migrate.head()}+{server_migrate.head()}"
    return f"{bulk}_v{FORMAT}_{hashlib.sha256(heads.encode()).hexdigest()[:8]}"


@contextlib.contextmanager
def _sqlite(bulk: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="securebox-load-db-") as folder:
        path = Path(folder) / "load.db"
        if bulk >= CACHED_FROM:
            cached = CACHE / f"docs_{_shape(bulk)}.db"
            if not cached.exists():
                CACHE.mkdir(parents=True, exist_ok=True)
                building = cached.with_suffix(f".{os.getpid()}.tmp")
                _load(f"sqlite:///{building}", bulk)
                building.replace(cached)
            shutil.copyfile(cached, path)
        url = f"sqlite:///{path}"
        _load(url, 0 if bulk >= CACHED_FROM else bulk)
        yield url


def _template(admin: Engine, admin_url: str, bulk: int) -> str:
    """The cached database's name, built when missing."""
    name = f"securebox_load_docs_{_shape(bulk)}"
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
    if found:
        return name
    building = f"{name}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{building}"'))
    try:
        _load(
            make_url(admin_url).set(database=building).render_as_string(hide_password=False), bulk
        )
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
    except DBAPIError:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
        raise
    return name


@contextlib.contextmanager
def _postgresql(bulk: int) -> Iterator[str]:
    from tests.stores.conftest import _admin_url, scratch_postgres  # noqa: PLC0415

    admin_url = _admin_url()
    if bulk < CACHED_FROM:
        with scratch_postgres(admin_url) as url:
            _load(url, bulk)
            yield url
        return
    admin = create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"securebox_load_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        template = _template(admin, admin_url, bulk)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        migrate_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def database(kind: str, bulk: int) -> Iterator[tuple[str, float]]:
    """A migrated database of ``kind`` (``sqlite``, ``postgresql``) holding ``bulk`` rows,
    dropped afterwards; and the seconds it took to get (building the cache included)."""
    started = time.perf_counter()
    opened = _sqlite(bulk) if kind == "sqlite" else _postgresql(bulk)
    with opened as url:
        yield url, time.perf_counter() - started
