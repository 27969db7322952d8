"""Which subscriptions hold a company: ``subscription_companies`` (ADR 0030).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

One row per (company, subscription), rewritten by the store with the subscription (like
``subscription_invitations``): a sender publishing a document to a company (SIREN) finds
the subscriptions holding it with one key lookup. Filled here from the subscriptions'
stored documents (their ``companies`` list of ``[siren, name, added_at]``).

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module. ``securebox db check`` compares the result with the schema module.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR compared byte by byte on PostgreSQL (COLLATE "C")."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    table = op.create_table(
        "subscription_companies",
        sa.Column("company", _key(9), nullable=False),
        sa.Column("client_id", _key(64), nullable=False),
        sa.PrimaryKeyConstraint("company", "client_id", name="pk_subscription_companies"),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["subscriptions.client_id"],
            name="fk_companies_sub",
            ondelete="CASCADE",
        ),
    )
    assert table is not None
    conn = op.get_bind()
    rows: list[dict[str, str]] = []
    for client_id, state in conn.execute(sa.text("SELECT client_id, state FROM subscriptions")):
        companies = {str(c[0]) for c in json.loads(state).get("companies", [])}
        rows.extend({"company": c, "client_id": str(client_id)} for c in sorted(companies))
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("subscription_companies")
