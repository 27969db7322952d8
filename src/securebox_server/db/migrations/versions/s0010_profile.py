"""Reserved for the user's profile: contact changes, preferences.

Revision ID: s0010
Revises: s0009
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

revision: str = "s0010"
down_revision: str | None = "s0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # no table yet: filled in by its issue


def downgrade() -> None:
    pass
