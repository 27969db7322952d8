"""Reserved for the API clients: senders' and receivers' service accounts (OAuth 2.0 client
credentials, private_key_jwt, mutual TLS).

Revision ID: s0004
Revises: s0003
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

revision: str = "s0004"
down_revision: str | None = "s0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # no table yet: filled in by its issue


def downgrade() -> None:
    pass
