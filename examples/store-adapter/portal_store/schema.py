"""The portal's own tables, as the portal's migrations created them long before securebox.

``portal_users`` and ``portal_credentials`` have the portal's names and columns: a company
number and a user suffix instead of securebox's client identifier and user number, a
``profile`` instead of a role, a ``state`` instead of a status, and columns securebox knows
nothing about (``full_name``, ``email``, other credential types such as ``api_key``).

The adapter needs one thing more: a ``sb_version`` column in each table (the
compare-and-swap version of the store Protocol). :func:`add_version_columns` is that
migration for a portal whose tables already exist; existing rows start at version 1, so
every existing user reads as an account that exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)

__all__ = [
    "CODE_TYPE",
    "CREDENTIALS",
    "PORTAL_CREDENTIALS",
    "PORTAL_METADATA",
    "PORTAL_USERS",
    "USERS",
    "UtcDateTime",
    "add_version_columns",
    "create_portal_tables",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC, read back as an aware UTC datetime on SQLite (which keeps
    no zone) and PostgreSQL (``timestamptz``) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the portal stores aware instants only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PORTAL_METADATA: Final = MetaData()

#: The portal's users: one row per login (company number + user suffix).
PORTAL_USERS: Final = Table(
    "portal_users",
    PORTAL_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company_number", String(9), nullable=False),
    Column("user_suffix", String(2), nullable=False),
    Column("profile", String(20), nullable=False),  # the portal's word for the role
    Column("state", String(10), nullable=False),  # "open" or "closed"
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("full_name", String(120)),  # the portal's own columns: never touched by securebox
    Column("email", String(254)),
    UniqueConstraint("company_number", "user_suffix", name="portal_users_login"),
)

#: The portal's credentials, keyed by login (so a credential may exist before the user row:
#: a code mailed to a user the back office has not finished creating). The portal keeps
#: other credential types here (``api_key``...); securebox's confidential code is the row
#: of type :data:`CODE_TYPE`.
PORTAL_CREDENTIALS: Final = Table(
    "portal_credentials",
    PORTAL_METADATA,
    Column("company_number", String(9), primary_key=True),
    Column("user_suffix", String(2), primary_key=True),
    Column("credential_type", String(20), primary_key=True),
    Column("secret_hash", Text, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("reset_required", Boolean, nullable=False),
    Column("valid_until", UtcDateTime()),
    Column("previous_hashes", Text, nullable=False),  # JSON list, newest first
)

#: The ``credential_type`` of securebox's confidential code.
CODE_TYPE: Final = "secret_code"

_VERSIONED: Final = ("portal_users", "portal_credentials")


def _versioned(table: Table, metadata: MetaData) -> Table:
    columns = [c._copy() for c in table.columns]
    constraints = (
        [UniqueConstraint("company_number", "user_suffix")] if table is PORTAL_USERS else []
    )
    version = Column("sb_version", Integer, nullable=False)
    return Table(table.name, metadata, *columns, version, *constraints)


#: The same two tables as the adapter sees them, after :func:`add_version_columns`.
ADAPTER_METADATA: Final = MetaData()
USERS: Final = _versioned(PORTAL_USERS, ADAPTER_METADATA)
CREDENTIALS: Final = _versioned(PORTAL_CREDENTIALS, ADAPTER_METADATA)


def create_portal_tables(engine: Engine) -> None:
    """What the portal's own migrations did years ago (for the tests and the demo)."""
    PORTAL_METADATA.create_all(engine)


def add_version_columns(engine: Engine) -> None:
    """The one migration the adapter needs: ``sb_version`` on each of the two tables,
    ``1`` for the rows that already exist (idempotent)."""
    with engine.begin() as conn:
        for table in _VERSIONED:
            columns = {c["name"] for c in inspect(conn).get_columns(table)}
            if "sb_version" not in columns:
                conn.execute(
                    text(f"ALTER TABLE {table} ADD COLUMN sb_version INTEGER NOT NULL DEFAULT 1")
                )
