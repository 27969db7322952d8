"""A moving window's entries indexed by key and expiry, not key and time of the hit.

Every hit deletes its keys' expired entries (``key = ? AND expires_at <= ?``) and counts the
live ones with their oldest expiry: with an index on ``(key, at)`` both read every entry of
the key from the table (a busy ``login.global`` holds up to 2,000), with ``(key,
expires_at)`` the delete reads only the expired ones and the count reads the index alone.
Within one key every entry has the same window, so ``expires_at`` orders the entries as
``at`` did.

Revision ID: s0013
Revises: s0012
Create Date: 2026-12-08

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

from alembic import op

revision: str = "s0013"
down_revision: str | None = "s0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_rate_limit_entries_key_expires_at", "rate_limit_entries", ["key", "expires_at"]
    )
    op.drop_index("ix_rate_limit_entries_key_at", table_name="rate_limit_entries")


def downgrade() -> None:
    op.create_index("ix_rate_limit_entries_key_at", "rate_limit_entries", ["key", "at"])
    op.drop_index("ix_rate_limit_entries_key_expires_at", table_name="rate_limit_entries")
