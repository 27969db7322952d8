"""The first schema: accounts, codes, lockouts, subscriptions, sessions, audit, documents.

Revision ID: 0001
Revises:
Create Date: 2026-03-02

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module. ``securebox db check`` compares the result with the schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

GENESIS = "0" * 64


def _key(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR compared byte by byte on PostgreSQL (COLLATE "C")."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _key_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _principal(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("user_number", _key(64), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "user_number", name=f"pk_{table}"),
    ]


def _version() -> sa.Column[int]:
    return sa.Column("version", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        *_principal("accounts"),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _instant("created_at"),
        _version(),
    )
    op.create_table(
        "code_credentials",
        *_principal("code_credentials"),
        sa.Column("hash", sa.Text(), nullable=False),
        _instant("set_at"),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        _instant("expires_at", nullable=True),
        sa.Column("history", sa.Text(), nullable=False),
        _version(),
    )
    op.create_table(
        "lockouts",
        *_principal("lockouts"),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("temporary_blocks", sa.Integer(), nullable=False),
        _instant("blocked_until", nullable=True),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        _instant("last_failure_at", nullable=True),
        _instant("series_started_at", nullable=True),
        _version(),
    )
    op.create_table(
        "subscriptions",
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("digital", sa.Boolean(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        _version(),
        sa.PrimaryKeyConstraint("client_id", name="pk_subscriptions"),
    )
    op.create_table(
        "subscription_invitations",
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("invitation_id", _key(64), nullable=False),
        sa.Column("invitee_client_id", _key(64), nullable=False),
        sa.Column("invitee_user_number", _key(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "invitation_id", name="pk_subscription_invitations"),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["subscriptions.client_id"],
            name="fk_invitations_sub",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_invitations_invitee",
        "subscription_invitations",
        ["invitee_client_id", "invitee_user_number"],
    )
    op.create_table(
        "sessions",
        sa.Column("id", _key(128), nullable=False),
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("user_number", _key(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        _instant("auth_time"),
        _instant("last_activity"),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        _version(),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_principal", "sessions", ["client_id", "user_number"])
    op.create_table(
        "audit_events",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        _instant("at"),
        sa.Column("at_text", sa.String(40), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("previous", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        _version(),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "sequence": 0, "mac": GENESIS, "version": 1}])
    op.create_table(
        "documents",
        sa.Column("id", _key(64), nullable=False),
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("company", _key(9), nullable=False),
        sa.Column("theme", _key(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("label_folded", _key_text(), nullable=False),
        _instant("issued_at"),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index(
        "ix_documents_company",
        "documents",
        ["client_id", "company", "issued_at", "id", "theme"],
    )
    op.create_index(
        "ix_documents_company_theme",
        "documents",
        ["client_id", "company", "theme", "issued_at", "id"],
    )
    op.create_index(
        "ix_documents_theme",
        "documents",
        ["client_id", "theme", "issued_at", "id", "company"],
    )
    op.create_index(
        "ix_documents_client",
        "documents",
        ["client_id", "issued_at", "id", "company", "theme"],
    )
    op.create_table(
        "document_counts",
        sa.Column("client_id", _key(64), nullable=False),
        sa.Column("company", _key(9), nullable=False),
        sa.Column("theme", _key(40), nullable=False),
        sa.Column("documents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "company", "theme", name="pk_document_counts"),
    )


def downgrade() -> None:
    op.drop_table("document_counts")
    op.drop_index("ix_documents_client", table_name="documents")
    op.drop_index("ix_documents_theme", table_name="documents")
    op.drop_index("ix_documents_company_theme", table_name="documents")
    op.drop_index("ix_documents_company", table_name="documents")
    op.drop_table("documents")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_sessions_principal", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_invitations_invitee", table_name="subscription_invitations")
    op.drop_table("subscription_invitations")
    op.drop_table("subscriptions")
    op.drop_table("lockouts")
    op.drop_table("code_credentials")
    op.drop_table("accounts")
