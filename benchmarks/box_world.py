"""The bank of ``sql_world.py`` as a digital box on PostgreSQL: its subscriptions and users,
its documents in the library's catalogue (``documents``) and in the box (``box_documents``,
one sender document type per theme, one shared PDF body in ``box_blobs``), for
``bench_box_listing.py`` to serve through a real ``securebox serve``.

Built once and cached: a PostgreSQL database ``securebox_bench_box_<docs>_v<FORMAT>`` with a
marker row naming its shape (the documents, the body, the schemas' revisions), and the
deployment's master key beside it in ``benchmarks/.cache/`` (git-ignored; a database without
its key file is rebuilt). The catalogue rows are loaded with ``COPY``, the box rows with one
``INSERT ... SELECT`` joined to the document types, the indexes built after the rows, then
``VACUUM ANALYZE``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from listing_world import load_rights
from sql_world import THEMES, World, _rows
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import DOCUMENTS
from securebox_server.db import migrate as server_migrate
from securebox_server.db.schema import BOX_DOCUMENTS
from securebox_server.wiring import migrate_database, write_master_key

__all__ = ["CACHE", "SENDERS", "BoxWorld", "load_box_world"]

FORMAT: Final = 1
CACHE: Final = Path(__file__).resolve().parent / ".cache"
#: The sender and document type of each theme of ``sql_world``: (sender, type, title,
#: retention class, retention years). No validity: nothing expires in the benchmark.
SENDERS: Final = {
    "payroll": ("urssaf", "appel-cotisations", "Appel de cotisations", "social", 6),
    "statements": ("bank", "releve-compte", "Relevé de compte", "commercial", 10),
    "tax": ("dgfip", "avis-imposition", "Avis d'imposition", "tax", 6),
    "contracts": ("bank", "convention", "Convention de compte", "commercial", 10),
    "invoices": ("bank", "facture-frais", "Facture de frais bancaires", "commercial", 10),
    "insurance": ("insurer", "avis-echeance", "Avis d'échéance", "commercial", 10),
    "loans": ("bank", "echeancier", "Échéancier de prêt", "commercial", 10),
    "cards": ("bank", "releve-carte", "Relevé d'opérations carte", "commercial", 10),
    "fx": ("bank", "avis-change", "Avis d'opération de change", "commercial", 10),
    "savings": ("bank", "releve-epargne", "Relevé d'épargne", "commercial", 10),
    "letters": ("urssaf", "courrier", "Courrier", "social", 6),
    "notices": ("bank", "avis-operation", "Avis d'opération", "commercial", 10),
}
assert set(SENDERS) == set(THEMES)


@dataclass(frozen=True, slots=True)
class BoxWorld:
    """A built database: its URL, the master key file the server reads, and the seconds
    spent building it (0 when it came from the cache)."""

    url: str
    key_file: Path
    built_s: float


def _marker(world: World, digest: str) -> str:
    """The shape: this file's format, the documents, the body, both schemas' revisions."""
    schemas = f"{store_migrate.head()}+{server_migrate.head()}"
    return f"box-v{FORMAT}:{world.documents}:{digest[:16]}:{schemas}"


def _has_marker(engine: Engine, marker: str) -> bool:
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT marker FROM bench_marker")).scalar()
    except DBAPIError:  # no marker table: build it
        return False
    return found == marker


def _copy_documents(engine: Engine, world: World) -> None:
    import psycopg  # noqa: PLC0415 - only when PostgreSQL is used

    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with (
            driver.cursor() as cursor,
            cursor.copy(
                "COPY documents (id, client_id, company, theme, label, label_folded, "
                "issued_at) FROM STDIN"
            ) as copy,
        ):
            for row in _rows(world):
                copy.write_row((*row[:6], row[6] + "+00"))
        driver.commit()
    finally:
        raw.close()


def _fill_box(engine: Engine, body: bytes, digest: str) -> None:
    """The document types, the shared body, and one box row per catalogue row."""
    types = [
        {"sender": s, "type": t, "title": title, "theme": theme, "rc": rc, "years": years}
        for theme, (s, t, title, rc, years) in SENDERS.items()
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO box_document_types (sender, type, title, theme, validity_days, "
                "warning_days, retention_class, retention_years) "
                "VALUES (:sender, :type, :title, :theme, NULL, 0, :rc, :years)"
            ),
            types,
        )
        conn.execute(
            text(
                "INSERT INTO box_blobs (digest, size, body, created_at) VALUES (:d, :s, :b, now())"
            ),
            {"d": digest, "s": len(body), "b": body},
        )
        conn.execute(
            text(
                "INSERT INTO box_documents (id, client_id, company, sender, type, theme, label, "
                "issued_at, published_at, valid_until, warn_at, warned_at, retention_class, "
                "retain_until, legal_hold, digest, size, media_type, filename, status, "
                "expired_at, deleted_at, deletion_reason) "
                "SELECT d.id, d.client_id, d.company, t.sender, t.type, d.theme, d.label, "
                "d.issued_at, d.issued_at + interval '2 hours', NULL, NULL, NULL, "
                "t.retention_class, d.issued_at + make_interval(years => t.retention_years), "
                "false, :digest, :size, 'application/pdf', d.id || '.pdf', 'live', "
                "NULL, NULL, NULL "
                "FROM documents d JOIN box_document_types t ON t.theme = d.theme"
            ),
            {"digest": digest, "size": len(body)},
        )


def _prepare(engine: Engine, url: str) -> None:
    """An empty, migrated database without the document indexes (built after the rows)."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate_database(url)
    with engine.begin() as conn:
        for index in (*DOCUMENTS.indexes, *BOX_DOCUMENTS.indexes):
            index.drop(conn)


def _finish(engine: Engine, marker: str) -> None:
    with engine.begin() as conn:
        for index in (*DOCUMENTS.indexes, *BOX_DOCUMENTS.indexes):
            index.create(conn)
        conn.execute(text("CREATE TABLE bench_marker (marker VARCHAR(64))"))
        conn.execute(text("INSERT INTO bench_marker VALUES (:m)"), {"m": marker})
    SqlCatalogue(engine).refresh_counts()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def load_box_world(world: World, admin_url: str, body: bytes) -> BoxWorld:
    """The cached database of ``world`` with ``body`` as every document's body, built
    through ``admin_url`` when missing, of another shape, or without its key file."""
    digest = hashlib.sha256(body).hexdigest()
    name = f"securebox_bench_box_{world.documents}_v{FORMAT}"
    admin = create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    CACHE.mkdir(exist_ok=True)
    key_file = CACHE / f"{name}.key"
    engine: Any = create_engine(url)
    try:
        marker = _marker(world, digest)
        if key_file.exists() and _has_marker(engine, marker):
            return BoxWorld(url, key_file, 0.0)
        started = time.perf_counter()
        key_file.unlink(missing_ok=True)
        write_master_key(key_file)
        _prepare(engine, url)
        _copy_documents(engine, world)
        _fill_box(engine, body, digest)
        load_rights(world, engine)
        _finish(engine, marker)
        return BoxWorld(url, key_file, time.perf_counter() - started)
    finally:
        engine.dispose()
