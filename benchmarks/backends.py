"""The stores every benchmark row runs on: memory, SQLite (a new file, removed at exit) and
PostgreSQL (a new database, dropped at exit), each opened through the public
``open_sql_store``.

PostgreSQL: ``SECUREBOX_BENCH_POSTGRES_URL`` (default ``postgresql://127.0.0.1:5432/postgres``)
names a database from which the scratch databases are created; when the server cannot be
reached the PostgreSQL rows are skipped with a message on stderr.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from securebox_auth import open_sql_store
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.stores.sql.engine import create_engine

__all__ = ["KINDS", "LABELS", "SQL_KINDS", "available", "new_store", "new_url"]

KINDS: Final = ("memory", "sqlite", "postgresql")
SQL_KINDS: Final = ("sqlite", "postgresql")
LABELS: Final = {"memory": "memory", "sqlite": "SQLite", "postgresql": "PostgreSQL"}
_ADMIN: Final = os.environ.get(
    "SECUREBOX_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres"
)
_created: list[str] = []
_folders: list[Path] = []
_reachable: dict[str, bool] = {}


def available(kinds: tuple[str, ...] = KINDS) -> list[str]:
    """``kinds`` without PostgreSQL when its server does not answer (said once on stderr)."""
    if "postgresql" in kinds and "postgresql" not in _reachable:
        try:
            probe = create_engine(_ADMIN)
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
            probe.dispose()
            _reachable["postgresql"] = True
        except OperationalError as exc:
            print(f"benchmarks: PostgreSQL skipped ({_ADMIN}: {exc.orig})", file=sys.stderr)
            _reachable["postgresql"] = False
    return [k for k in kinds if k != "postgresql" or _reachable["postgresql"]]


def new_url(kind: str) -> str:
    """A URL of an empty, migrated database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="securebox-bench-"))
        _folders.append(folder)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    else:
        name = f"securebox_bench_{os.getpid()}_{secrets.token_hex(4)}"
        admin = create_engine(_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        _created.append(name)
        url = make_url(_ADMIN).set(database=name).render_as_string(hide_password=False)
    open_sql_store(url, audit_key=b"\x00" * 32, migrate=True).engine.dispose()
    return url


def new_store(kind: str, audit_key: bytes) -> AuthStore:
    """A new store of ``kind`` (``memory``, ``sqlite``, ``postgresql``)."""
    if kind == "memory":
        return MemoryStore(audit_key=audit_key)
    return open_sql_store(new_url(kind), audit_key=audit_key)


@atexit.register
def _drop() -> None:
    for folder in _folders:
        shutil.rmtree(folder, ignore_errors=True)
    if not _created:
        return
    admin = create_engine(_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
