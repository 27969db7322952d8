"""The server's tables, as SQLAlchemy Core metadata (the migrations write them out in full).

Rate limits (:mod:`securebox_server.rate_limits.storage`):

* ``rate_limit_windows``: one row per moving-window key, the row every hit on that key locks
  first (so hits on one key are serialised), and when its newest entry expires;
* ``rate_limit_entries``: one row per accepted hit of a moving window, at most ``limit`` live
  rows per key; a hit deletes its key's expired rows, and a sweep deletes the others;
* ``rate_limit_counters``: fixed-window counters (the ``limits`` Storage base interface).

Step-up orders (:mod:`securebox_server.stepup.orders`), recorded in the demo (no money moves):

* ``stepup_orders``: one row per sensitive operation entered (payee, cheque-book order, SEPA
  instant transfer, payment batch, change of role), ``pending`` until its step-up grant is
  consumed, then ``done``; ``details`` is the JSON of what was shown for approval;
* ``stepup_payees``: the payees a user added (after a consumed step-up).

Keys are SHA-256 digests of the ``limits`` key (which holds an address or an account id), so
the tables never hold a client identifier or an address in clear.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

__all__ = [
    "METADATA",
    "RATE_LIMIT_COUNTERS",
    "RATE_LIMIT_ENTRIES",
    "RATE_LIMIT_WINDOWS",
    "STEPUP_ORDERS",
    "STEPUP_PAYEES",
]

METADATA: Final = sa.MetaData()

RATE_LIMIT_WINDOWS: Final = sa.Table(
    "rate_limit_windows",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Double(), nullable=False),
)

RATE_LIMIT_ENTRIES: Final = sa.Table(
    "rate_limit_entries",
    METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("expires_at", sa.Double(), nullable=False),
    sa.Index("ix_rate_limit_entries_key_at", "key", "at"),
    sa.Index("ix_rate_limit_entries_expires_at", "expires_at"),
)

RATE_LIMIT_COUNTERS: Final = sa.Table(
    "rate_limit_counters",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger(), nullable=False),
    sa.Column("expires_at", sa.Double(), nullable=False),
)

STEPUP_ORDERS: Final = sa.Table(
    "stepup_orders",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("handle", sa.Text(), nullable=True),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("done_at", sa.String(40), nullable=True),
    sa.Index("ix_stepup_orders_principal", "principal", "created_at"),
)

STEPUP_PAYEES: Final = sa.Table(
    "stepup_payees",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("name", sa.String(70), nullable=False),
    sa.Column("iban", sa.String(34), nullable=False),
    sa.Column("order_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("principal", "iban", name="uq_stepup_payees_principal_iban"),
)
