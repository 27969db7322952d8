"""The shared high-water mark of time: ``clock_mark`` (ADR 0042).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

One row (``id`` 1, written on first use): the latest time a process returned, in
microseconds since the Unix epoch (an integer: compared the same on SQLite and
PostgreSQL), and how many operator resets it has been through.

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clock_mark",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clock_mark"),
    )


def downgrade() -> None:
    op.drop_table("clock_mark")
