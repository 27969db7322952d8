"""Reserved for the library's recovery records (secret questions, recovery requests).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # no table yet: filled in by its issue


def downgrade() -> None:
    pass
