"""One audit chain per subscription, anchored into the global chain (ADR 0021).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

* ``audit_events`` gains ``chain`` (``''``: the global chain; else a client identifier) and
  an ``id`` (the order events were recorded in, across chains); ``(chain, sequence)`` is
  unique. The events of the single chain of before become the global chain as they are:
  its MAC is unchanged, so they still verify, and checkpoints taken of it still hold.
* ``audit_head`` (one row) becomes ``audit_chains`` (one head row per chain; the old head is
  the global chain's row).
* ``audit_anchored``: the sequence of each tenant chain last anchored into the global chain.

Downgrading is refused once a tenant chain holds an event (it would lose audit events or
merge chains that no longer verify as one).

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module. ``securebox db check`` compares the result with the schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = "at, at_text, action, actor, subject, outcome, details, previous, mac"


def _key(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR compared byte by byte on PostgreSQL (COLLATE "C")."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _instant(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _event_columns() -> list[sa.Column[object]]:
    return [
        _instant("at"),
        sa.Column("at_text", sa.String(40), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("previous", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    ]


def _set_aside(table: str, pk: str) -> None:
    """Rename ``table`` to ``<table>_old`` with its primary key's name (PostgreSQL names
    indexes per schema)."""
    op.rename_table(table, f"{table}_old")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table}_old RENAME CONSTRAINT {pk} TO {pk}_old")


def upgrade() -> None:
    op.create_table(
        "audit_chains",
        sa.Column("chain", _key(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_audit_chains"),
    )
    op.execute(
        "INSERT INTO audit_chains (chain, sequence, mac, version) "
        "SELECT '', sequence, mac, version FROM audit_head WHERE id = 1"
    )
    op.drop_table("audit_head")
    op.create_table(
        "audit_anchored",
        sa.Column("chain", _key(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain", name="pk_audit_anchored"),
    )
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    _set_aside("audit_events", "pk_audit_events")
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain", _key(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.execute(
        f"INSERT INTO audit_events (id, chain, sequence, {_COLUMNS}) "
        f"SELECT sequence, '', sequence, {_COLUMNS} FROM audit_events_old ORDER BY sequence"
    )
    op.drop_table("audit_events_old")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false)"
        )
    op.create_index("ix_audit_events_chain", "audit_events", ["chain", "sequence"], unique=True)
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    bind = op.get_bind()
    tenants = bind.exec_driver_sql("SELECT COUNT(*) FROM audit_events WHERE chain <> ''")
    if tenants.scalar_one():
        raise RuntimeError(
            "tenant audit chains hold events: downgrading below 0004 would lose them"
        )
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_index("ix_audit_events_chain", table_name="audit_events")
    _set_aside("audit_events", "pk_audit_events")
    op.create_table(
        "audit_events",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        *_event_columns(),
        sa.PrimaryKeyConstraint("sequence", name="pk_audit_events"),
    )
    op.execute(
        f"INSERT INTO audit_events (sequence, {_COLUMNS}) "
        f"SELECT sequence, {_COLUMNS} FROM audit_events_old WHERE chain = '' ORDER BY sequence"
    )
    op.drop_table("audit_events_old")
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.drop_table("audit_anchored")
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.execute(
        "INSERT INTO audit_head (id, sequence, mac, version) "
        "SELECT 1, sequence, mac, version FROM audit_chains WHERE chain = ''"
    )
    op.drop_table("audit_chains")
