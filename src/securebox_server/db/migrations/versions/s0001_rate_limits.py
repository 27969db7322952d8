"""The rate-limit tables: moving windows, their entries, fixed-window counters.

Revision ID: s0001
Revises:
Create Date: 2026-12-04

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )
    op.create_table(
        "rate_limit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_rate_limit_entries_key_at", "rate_limit_entries", ["key", "at"])
    op.create_index("ix_rate_limit_entries_expires_at", "rate_limit_entries", ["expires_at"])
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counters")
    op.drop_index("ix_rate_limit_entries_expires_at", "rate_limit_entries")
    op.drop_index("ix_rate_limit_entries_key_at", "rate_limit_entries")
    op.drop_table("rate_limit_entries")
    op.drop_table("rate_limit_windows")
