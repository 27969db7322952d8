"""Companies and third parties: the invitation links sent by e-mail (SHA-256 of the token
only), with the third party's declared SIREN, name and address.

Revision ID: s0008
Revises: s0007
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0008"
down_revision: str | None = "s0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "third_party_invitations",
        sa.Column("invitation_id", sa.String(40), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("siren", sa.String(9), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("invitee", sa.String(130), nullable=False),
        sa.Column("new_account", sa.Boolean(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_third_party_invitations_token",
        "third_party_invitations",
        ["token_sha256"],
        unique=True,
    )
    op.create_index("ix_third_party_invitations_client", "third_party_invitations", ["client_id"])


def downgrade() -> None:
    op.drop_table("third_party_invitations")
