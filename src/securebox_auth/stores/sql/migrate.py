"""Schema migrations (Alembic), shipped inside the package so they run from a wheel.

:func:`upgrade`, :func:`downgrade`, :func:`current` and :func:`check` drive the Alembic
scripts in ``migrations/`` on an engine; ``securebox db ...`` calls them. :func:`check`
compares the live schema with :data:`~securebox_auth.stores.sql.schema.METADATA` (Alembic's
autogenerate comparison), so a migration that forgets something is caught.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.schema import METADATA

__all__ = ["SchemaStatus", "check", "current", "describe", "downgrade", "head", "upgrade"]

SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of securebox knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package ships revisions
        raise RuntimeError("no migration scripts")
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the schema up to ``revision`` (one transaction)."""
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
        command.upgrade(_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the schema down to ``revision`` (``"base"``: drop everything)."""
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
        command.downgrade(_config(conn), revision)
        conn.commit()


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    revision: str | None
    head: str
    #: Differences between the database and the schema module, in Alembic's words.
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.revision == self.head and not self.differences


def _name(item: Any) -> str:
    table = getattr(item, "table", None)
    name = getattr(item, "name", None) or str(item)
    return f"{table.name}.{name}" if table is not None and hasattr(item, "type") else str(name)


def describe(diff: Any) -> str:
    """One line for one of Alembic's differences (``("add_table", Table)``, ...)."""
    if isinstance(diff, list):
        return "; ".join(describe(d) for d in diff)
    operation = diff[0]
    if operation.startswith("modify_"):
        _, _, table, column, _, old, new = diff
        return f"{operation} {table}.{column}: database has {old!r}, schema says {new!r}"
    if operation in ("add_column", "remove_column"):
        return f"{operation} {diff[2]}.{diff[3].name}"
    return f"{operation} {_name(diff[1])}"


def check(engine: Engine, *, foreign: Collection[str] = ()) -> SchemaStatus:
    """Is the database at the newest revision, with exactly the expected schema?

    ``foreign`` names tables of another history sharing the database (the reference
    server's rate-limit tables and version table): they are not reported as extra."""
    ignored = frozenset(foreign) - set(METADATA.tables)

    def include_object(
        obj: object, name: str | None, type_: str, reflected: bool, other: object
    ) -> bool:
        del reflected, other
        if type_ == "table":
            return name not in ignored
        return getattr(getattr(obj, "table", None), "name", None) not in ignored

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        revision = context.get_current_revision()
        diffs = compare_metadata(context, METADATA)
    return SchemaStatus(revision, head(), tuple(describe(d) for d in diffs))
