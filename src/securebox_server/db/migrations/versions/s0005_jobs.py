"""The jobs: named leases of the worker's periodic passes, and the outbox's lease index.

Revision ID: s0005
Revises: s0004
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0005"
down_revision: str | None = "s0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_box_notifications_message", "box_notifications", ["message_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_box_notifications_message", "box_notifications")
    op.drop_table("job_leases")
