"""Account recovery: the recovery flows (forgotten identifier, forgotten code), each with
its state, expiry, claimed principal and the digest of its e-mail link token.

Revision ID: s0009
Revises: s0008
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0009"
down_revision: str | None = "s0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "recovery_flows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("user_number", sa.String(64), nullable=True),
        sa.Column("token_digest", sa.String(64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_recovery_flows_token", "recovery_flows", ["token_digest"], unique=True)
    op.create_index(
        "ix_recovery_flows_principal", "recovery_flows", ["client_id", "user_number", "kind"]
    )
    op.create_index("ix_recovery_flows_expires", "recovery_flows", ["expires_at"])


def downgrade() -> None:
    op.drop_table("recovery_flows")
