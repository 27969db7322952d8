"""The box's reading side: an index for "N new documents since your last visit".

Revision ID: s0006
Revises: s0005
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

from alembic import op

revision: str = "s0006"
down_revision: str | None = "s0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A subscription's documents, newest publication first: the home page counts the new
    # ones from this index, reading at most a bounded number of entries.
    op.create_index("ix_box_documents_published", "box_documents", ["client_id", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_box_documents_published", table_name="box_documents")
