"""Migrations of the server's own tables (Alembic, shipped inside the package).

The library's runner (:class:`securebox_auth.stores.sql.migrate.History`) with the server's
scripts and its own version table (:data:`VERSION_TABLE`), so ``securebox db upgrade`` (the
library's tables) and :func:`upgrade` here (the server's) never step on each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from securebox_auth.stores.sql.migrate import History, SchemaStatus
from securebox_server.db.schema import METADATA

__all__ = [
    "HISTORY",
    "SCRIPTS",
    "TABLES",
    "VERSION_TABLE",
    "SchemaStatus",
    "check",
    "current",
    "downgrade",
    "head",
    "upgrade",
]

SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE: Final = "securebox_server_version"
HISTORY: Final = History(SCRIPTS, METADATA, VERSION_TABLE, own_tables_only=True)
#: Every table of this history, its version table included (the library's ``db check``
#: leaves them out of its comparison).
TABLES: Final = HISTORY.tables


#: The newest revision of the server's tables.
head: Final = HISTORY.head
#: Migrate the server's tables up to a revision, one transaction (``"head"``: the newest).
upgrade: Final = HISTORY.upgrade
#: Migrate the server's tables down to a revision (``"base"``: drop them).
downgrade: Final = HISTORY.downgrade
#: The server tables' revision (``None`` when they were never created).
current: Final = HISTORY.current
#: Are the server's tables at the newest revision, exactly as the schema module says?
check: Final = HISTORY.check
