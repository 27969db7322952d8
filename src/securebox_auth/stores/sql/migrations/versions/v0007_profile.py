"""Reserved for the library's profile records (pending contact changes).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # no table yet: filled in by its issue


def downgrade() -> None:
    pass
