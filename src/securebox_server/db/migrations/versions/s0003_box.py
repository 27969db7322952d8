"""The digital box: documents, bodies, reads, visits, publications, the notification outbox,
company contacts and the receivers' event feed.

Revision ID: s0003
Revises: s0002
Create Date: 2026-12-05

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0003"
down_revision: str | None = "s0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "box_document_types",
        sa.Column("sender", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("warning_days", sa.Integer(), nullable=False),
        sa.Column("retention_class", sa.String(40), nullable=False),
        sa.Column("retention_years", sa.Integer(), nullable=False),
    )
    op.create_table(
        "box_documents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("company", sa.String(9), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retention_class", sa.String(40), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deletion_reason", sa.String(40), nullable=True),
    )
    op.create_index("ix_box_documents_sender", "box_documents", ["sender", "published_at", "id"])
    op.create_index("ix_box_documents_valid_until", "box_documents", ["status", "valid_until"])
    op.create_index("ix_box_documents_warn_at", "box_documents", ["status", "warn_at"])
    op.create_index("ix_box_documents_digest", "box_documents", ["digest"])
    op.create_table(
        "box_blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "box_reads",
        sa.Column("document_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("user_number", sa.String(64), primary_key=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_how", sa.String(16), nullable=False),
    )
    op.create_index("ix_box_reads_user", "box_reads", ["client_id", "user_number", "document_id"])
    op.create_table(
        "box_visits",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("user_number", sa.String(64), primary_key=True),
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "box_publications",
        sa.Column("sender", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "box_notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("document_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("company", sa.String(9), nullable=False),
        sa.Column("user_number", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
    )
    op.create_index("ix_box_notifications_due", "box_notifications", ["status", "next_attempt_at"])
    op.create_index(
        "ix_box_notifications_recipient",
        "box_notifications",
        ["client_id", "user_number", "status"],
    )
    op.create_table(
        "box_company_contacts",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("company", sa.String(9), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "box_feed_heads",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "box_events",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("document_id", sa.String(64), nullable=False),
        sa.Column("company", sa.String(9), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_box_notifications_due", "box_notifications")
    op.drop_index("ix_box_notifications_recipient", "box_notifications")
    op.drop_index("ix_box_reads_user", "box_reads")
    op.drop_index("ix_box_documents_sender", "box_documents")
    op.drop_index("ix_box_documents_valid_until", "box_documents")
    op.drop_index("ix_box_documents_warn_at", "box_documents")
    op.drop_index("ix_box_documents_digest", "box_documents")
    op.drop_table("box_events")
    op.drop_table("box_feed_heads")
    op.drop_table("box_company_contacts")
    op.drop_table("box_notifications")
    op.drop_table("box_publications")
    op.drop_table("box_visits")
    op.drop_table("box_reads")
    op.drop_table("box_blobs")
    op.drop_table("box_documents")
    op.drop_table("box_document_types")
