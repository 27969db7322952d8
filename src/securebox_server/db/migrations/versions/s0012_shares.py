"""A document shared by e-mail is an outbox row of kind ``share`` with the address the user
gave, their note and the message's language (``box.shares``).

Revision ID: s0012
Revises: s0011
Create Date: 2026-12-07

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0012"
down_revision: str | None = "s0011"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = (("address", 254), ("note", 500), ("language", 8))


def upgrade() -> None:
    for name, length in _COLUMNS:
        op.add_column("box_notifications", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("box_notifications") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
