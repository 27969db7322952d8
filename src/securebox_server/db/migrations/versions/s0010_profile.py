"""The user's profile: notification preferences and pending contact changes.

Revision ID: s0010
Revises: s0009
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0010"
down_revision: str | None = "s0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "profile_preferences",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("user_number", sa.String(64), primary_key=True),
        sa.Column("new_documents", sa.String(8), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profile_contact_changes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_number", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("challenge_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    op.create_index(
        "ix_profile_contact_changes_user",
        "profile_contact_changes",
        ["client_id", "user_number", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_profile_contact_changes_user", "profile_contact_changes")
    op.drop_table("profile_contact_changes")
    op.drop_table("profile_preferences")
