"""The id of the audit key that sealed each event: ``audit_events.key_id`` (ADR 0059).

And ``audit_chains.key_id``: the key id of each chain's head event, which sealing reads.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A key rotation keeps the audit chains verifiable: each event names the key id it was sealed
under, its MAC covers that id, and verification takes a keyring by id. The events of before
get ``''`` (no key id): their MACs are unchanged and cover no id, so they still verify, and
checkpoints and anchors taken of them still hold. A verifier reads them as sealed under its
keyring's *legacy* key (by default the oldest id: before this revision a rotation broke the
chains, so the events of a chain that verified were sealed under the key current before
the first rotation that follows).

Downgrading is refused once an event carries a key id (its MAC covers it: without the
column it would no longer verify).

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for table in ("audit_events", "audit_chains"):
        op.add_column(table, sa.Column("key_id", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    bind = op.get_bind()
    keyed = bind.exec_driver_sql("SELECT COUNT(*) FROM audit_events WHERE key_id <> ''")
    if keyed.scalar_one():
        raise RuntimeError(
            "audit events are sealed under key ids: downgrading below 0009 would break them"
        )
    op.drop_column("audit_chains", "key_id")
    op.drop_column("audit_events", "key_id")
