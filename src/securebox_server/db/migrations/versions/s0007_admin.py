"""Administration of users: the profile facts the library's account does not hold.

Revision ID: s0007
Revises: s0006
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0007"
down_revision: str | None = "s0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "admin_user_profiles",
        sa.Column("principal", sa.String(130), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("civility", sa.String(8), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("mobile", sa.String(20), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("function", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admin_user_profiles_client", "admin_user_profiles", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_user_profiles_client", table_name="admin_user_profiles")
    op.drop_table("admin_user_profiles")
