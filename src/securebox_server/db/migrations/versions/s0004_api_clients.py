"""API clients: senders' and receivers' service accounts (OAuth 2.0 client credentials,
private_key_jwt, mutual TLS), the used assertion ids and the access tokens (SHA-256 only).

Revision ID: s0004
Revises: s0003
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0004"
down_revision: str | None = "s0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(64), nullable=True),
        sa.Column("subscription", sa.String(64), nullable=True),
        sa.Column("principal", sa.String(130), nullable=True),
        sa.Column("companies", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("certificate_sha256", sa.String(64), nullable=True),
        sa.Column("scopes", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_clients_sender", "api_clients", ["sender"])
    op.create_index("ix_api_clients_subscription", "api_clients", ["subscription"])
    op.create_index(
        "ix_api_clients_certificate", "api_clients", ["certificate_sha256"], unique=True
    )
    op.create_table(
        "api_client_jtis",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("jti", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_client_jtis_expires", "api_client_jtis", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(400), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_api_tokens_client", "api_tokens", ["client_id"])
    op.create_index("ix_api_tokens_expires", "api_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("api_client_jtis")
    op.drop_table("api_clients")
