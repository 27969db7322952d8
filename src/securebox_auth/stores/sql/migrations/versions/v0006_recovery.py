"""Reserved for the library's recovery records: none was needed (ADR 0040). The hashed
secret answers are a factor-state kind (``secret_answers``) and the recovery flows are the
server's (revision s0009). Kept empty so the chain stays as reserved.

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
    pass  # nothing: see the module documentation


def downgrade() -> None:
    pass
