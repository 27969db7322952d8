"""Per-element failure series of the lockout state (ADR 0008): ``lockouts.elements``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

``elements`` (JSON text) holds the failure series of each authentication element; it is
NULL in the rows written before, which the codec reads conservatively (every element gets
the row's combined counters). ``series_started_at`` is dropped: a failure window is now
measured from the last failure of a series (ADR 0008), which ``last_failure_at`` holds.
Downgrading restores the column (empty) and drops the series: the combined counters stay.

Write the DDL out in full: a migration is a frozen snapshot and never imports the schema
module. ``securebox db check`` compares the result with the schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("lockouts") as batch:
        batch.add_column(sa.Column("elements", sa.Text(), nullable=True))
        batch.drop_column("series_started_at")


def downgrade() -> None:
    with op.batch_alter_table("lockouts") as batch:
        batch.add_column(sa.Column("series_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("elements")
