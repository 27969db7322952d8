"""A SQL store on a SQLite file of its own, for the state machines that run a slice of
their examples on SQLite: made migrated, removed by the returned clean-up."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore


def sqlite_file_store(prefix: str, audit_key: bytes) -> tuple[SqlStore, Callable[[], None]]:
    """A migrated store on a new SQLite file, and what disposes of its engine and file."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    engine = create_engine(f"sqlite:///{folder / 'store.sqlite3'}")
    migrate.upgrade(engine)

    def clean_up() -> None:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)

    return SqlStore(engine, audit_key=audit_key), clean_up
