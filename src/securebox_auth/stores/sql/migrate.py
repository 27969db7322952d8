"""Schema migrations (Alembic), shipped inside the package so they run from a wheel.

One runner for every Alembic history shipped in a package: a :class:`History` names its
scripts folder, its schema module's metadata and its version table, and drives them
(:meth:`~History.upgrade`, :meth:`~History.downgrade`, :meth:`~History.current`,
:meth:`~History.check`); each history's ``env.py`` calls :func:`run_environment`. The
module-level functions drive the library's own history (:data:`STORE`; ``securebox db ...``
calls them). :meth:`~History.check` compares the live schema with the metadata (Alembic's
autogenerate comparison), so a migration that forgets something is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text

from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.schema import METADATA

__all__ = [
    "SCRIPTS",
    "STORE",
    "History",
    "SchemaStatus",
    "check",
    "current",
    "describe",
    "downgrade",
    "head",
    "run_environment",
    "upgrade",
]

#: Alembic's default version table (the library's history keeps it).
DEFAULT_VERSION_TABLE: Final = "alembic_version"
#: The PostgreSQL advisory lock every securebox migration takes (any 64-bit number that no
#: other application of the database uses: "sbox" "migr" in ASCII).
MIGRATION_LOCK: Final = 0x73626F786D696772

IncludeObject = Callable[[object, str | None, str, bool, object], bool]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    revision: str | None
    head: str
    #: Differences between the database and the schema module, in Alembic's words.
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.revision == self.head and not self.differences


@dataclass(frozen=True, slots=True)
class History:
    """One Alembic history: its scripts, the metadata they build and its version table.

    ``own_tables_only``: the history shares the database with another one (the reference
    server's tables beside the library's), so only its own tables are compared."""

    scripts: Path
    metadata: MetaData
    version_table: str = DEFAULT_VERSION_TABLE
    own_tables_only: bool = False

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table of this history, its version table included."""
        return (*self.metadata.tables, self.version_table)

    def include_object(self, foreign: Collection[str] = ()) -> IncludeObject:
        """Alembic's ``include_object``: this history's tables, without ``foreign`` ones."""
        own = frozenset(self.metadata.tables)
        ignored = frozenset(foreign) - own
        only_own = self.own_tables_only

        def include(
            obj: object, name: str | None, type_: str, reflected: bool, other: object
        ) -> bool:
            del reflected, other
            if type_ == "table":
                return name in own if only_own else name not in ignored
            return only_own or getattr(getattr(obj, "table", None), "name", None) not in ignored

        return include

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.attributes["history"] = self
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        """The newest revision of this history."""
        revision = ScriptDirectory.from_config(self.config()).get_current_head()
        if revision is None:  # pragma: no cover - the package ships revisions
            raise RuntimeError("no migration scripts")
        return revision

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Migrate up to ``revision`` (one transaction). Several processes may do it at once
        (servers starting together on one PostgreSQL database): the transaction first takes
        a transaction-scoped advisory lock, so they migrate one after the other and the
        later ones find the work done. A SQLite file is one host's: migrate it once, before
        the workers start (as ``securebox serve`` does)."""
        with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(self.config(conn), revision)
            conn.commit()

    def downgrade(self, engine: Engine, revision: str) -> None:
        """Migrate down to ``revision`` (``"base"``: drop this history's tables)."""
        with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
            command.downgrade(self.config(conn), revision)
            conn.commit()

    def current(self, engine: Engine) -> str | None:
        """The revision the database is at (``None`` when this history never ran)."""
        with engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": self.version_table}
            ).get_current_revision()

    def check(self, engine: Engine, *, foreign: Collection[str] = ()) -> SchemaStatus:
        """Is the database at the newest revision, with exactly the expected schema?

        ``foreign`` names tables of another history sharing the database: they are not
        reported as extra."""
        with engine.connect() as conn:
            migration = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "version_table": self.version_table,
                    "include_object": self.include_object(foreign),
                },
            )
            revision = migration.get_current_revision()
            diffs = compare_metadata(migration, self.metadata)
        return SchemaStatus(revision, self.head(), tuple(describe(d) for d in diffs))


def run_environment() -> None:
    """The body of every shipped ``env.py``: online migrations on the connection and
    :class:`History` that :meth:`History.config` passed."""
    if context.is_offline_mode():
        raise RuntimeError("securebox migrations run online: use `securebox db upgrade`")
    connection = context.config.attributes.get("connection")
    history = context.config.attributes.get("history")
    if not isinstance(connection, Connection) or not isinstance(history, History):
        raise RuntimeError("run migrations through securebox_auth.stores.sql.migrate")
    context.configure(
        connection=connection,
        target_metadata=history.metadata,
        version_table=history.version_table,
        include_object=history.include_object(),
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
        # SQLite runs DDL in transactions too: without this, Alembic commits after each
        # revision there, and a downgrade refused half-way (0004, 0009) left the revisions
        # above it undone.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"
#: The library's own history (``securebox db ...``).
STORE: Final = History(SCRIPTS, METADATA)


#: The newest revision this version of securebox knows.
head: Final = STORE.head
#: Migrate the schema up to a revision, one transaction (``"head"``: the newest).
upgrade: Final = STORE.upgrade
#: Migrate the schema down to a revision (``"base"``: drop everything).
downgrade: Final = STORE.downgrade
#: The revision the database is at (``None`` for an empty database).
current: Final = STORE.current
#: Is the library's schema at the newest revision, exactly as the schema module says?
#: ``foreign`` names tables of another history sharing the database (the reference
#: server's tables and version table): they are not reported as extra.
check: Final = STORE.check


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
