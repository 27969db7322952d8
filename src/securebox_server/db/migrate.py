"""Migrations of the server's own tables (Alembic, shipped inside the package).

Like :mod:`securebox_auth.stores.sql.migrate`, on an engine from
:func:`securebox_auth.stores.sql.engine.create_engine`, but with its own scripts and its own
version table (:data:`VERSION_TABLE`), so ``securebox db upgrade`` (the library's tables)
and :func:`upgrade` here (the server's) never step on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.migrate import describe
from securebox_server.db.schema import METADATA

__all__ = [
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
#: Every table of this history, its version table included (the library's ``db check``
#: leaves them out of its comparison).
TABLES: Final = (*METADATA.tables, VERSION_TABLE)


def ours(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    """Alembic's ``include_object``: only the server's tables (the library's share the
    database and have their own history)."""
    del obj, reflected, other
    return type_ != "table" or name in METADATA.tables


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision of the server's tables."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package ships revisions
        raise RuntimeError("no migration scripts")
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the server's tables up to ``revision`` (one transaction)."""
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
        command.upgrade(_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the server's tables down to ``revision`` (``"base"``: drop them)."""
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
        command.downgrade(_config(conn), revision)
        conn.commit()


def current(engine: Engine) -> str | None:
    """The server tables' revision (``None`` when they were never created)."""
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    revision: str | None
    head: str
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.revision == self.head and not self.differences


def check(engine: Engine) -> SchemaStatus:
    """Are the server's tables at the newest revision, exactly as the schema module says?"""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "version_table": VERSION_TABLE, "include_object": ours},
        )
        revision = context.get_current_revision()
        diffs = compare_metadata(context, METADATA)
    return SchemaStatus(revision, head(), tuple(describe(d) for d in diffs))
