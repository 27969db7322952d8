"""The outbox's rows of one document and kind: the users entitled at sending time who were
not at publication are told too (``box.late_recipients``), once.

Revision ID: s0011
Revises: s0010
Create Date: 2026-12-06

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

from alembic import op

revision: str = "s0011"
down_revision: str | None = "s0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_box_notifications_document", "box_notifications", ["document_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_box_notifications_document", "box_notifications")
