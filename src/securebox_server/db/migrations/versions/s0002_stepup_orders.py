"""The step-up orders and payees of the demo (no money moves).

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-04

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0002"
down_revision: str | None = "s0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "stepup_orders",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("handle", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("done_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_stepup_orders_principal", "stepup_orders", ["principal", "created_at"])
    op.create_table(
        "stepup_payees",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("name", sa.String(70), nullable=False),
        sa.Column("iban", sa.String(34), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("principal", "iban", name="uq_stepup_payees_principal_iban"),
    )


def downgrade() -> None:
    op.drop_table("stepup_payees")
    op.drop_index("ix_stepup_orders_principal", "stepup_orders")
    op.drop_table("stepup_orders")
