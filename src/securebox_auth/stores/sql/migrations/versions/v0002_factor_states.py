"""The durable state of the authentication factors: ``factor_states``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module. ``securebox db check`` compares the result with the schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR compared byte by byte on PostgreSQL (COLLATE "C")."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "factor_states",
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("user_number", _key(64), nullable=False),
        sa.Column("kind", _key(32), nullable=False),
        sa.Column("item", _key(128), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "user_number", "kind", "item", name="pk_factor_states"
        ),
    )


def downgrade() -> None:
    op.drop_table("factor_states")
