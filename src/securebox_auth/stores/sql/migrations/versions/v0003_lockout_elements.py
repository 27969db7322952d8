"""Per-element failure series of the lockout state (ADR 0008): ``lockouts.elements``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

``elements`` (JSON text) holds the failure series of each authentication element; it is
NULL in the rows written before, which the codec reads conservatively (every element gets
the row's combined counters). ``series_started_at`` stays, unused (NULL in new rows): a
failure window is now measured from the last failure of a series (ADR 0008). Downgrading
drops the series; the combined counters stay.

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
    op.add_column("lockouts", sa.Column("elements", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("lockouts", "elements")  # SQLite 3.35+ drops a column in place
