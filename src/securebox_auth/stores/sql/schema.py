"""The tables, as SQLAlchemy Core metadata (the migrations create the same schema).

Every row that changes carries a ``version``: a write is ``UPDATE ... SET ...,
version = version + 1 WHERE <key> AND version = :expected`` (see :mod:`.store`).

* ``accounts``, ``code_credentials``, ``lockouts``: one row per principal, keyed by
  ``(client_id, user_number)``. No foreign keys between them: a lockout exists for principals
  that have no account (enumeration resistance), and a code may outlive an account.
* ``subscriptions``: the entitlement aggregate of one subscription (companies, themes, rights,
  invitations) as a JSON document, replaced as a whole under its version.
  ``subscription_invitations`` indexes who is invited where and ``subscription_companies``
  which subscriptions hold a company; the store rewrites a subscription's rows in the same
  transaction as the subscription, so they never disagree.
* ``sessions``: authenticated sessions (proofs and unused step-up grants as JSON); consuming
  a single-use grant is a compare-and-swap of the session row. An ended session keeps its row
  (``ended``) so that its identifier can never be used again.
* ``factor_states``: the durable state of the authentication factors (TOTP, out-of-band
  challenges, recovery codes, passkeys, CAP cards and challenges, the renewal clock), one
  row per ``(client_id, user_number, kind, item)`` with the factor codec's JSON document in
  ``state``. A deleted item keeps its row with ``state`` NULL (a tombstone, like an ended
  session), so its key can never be used again.
* ``audit_events``, ``audit_chains`` and ``audit_anchored``: the sealed audit chains (one per
  subscription, and the global chain named ``''``: ADR 0021), the head row of each chain,
  and the sequence of each tenant chain last anchored into the global chain. A commit
  locks and advances the head rows of the chains its events go to (in the order of their
  names), in the same transaction as its changes: commits of different subscriptions
  never wait for each other. ``audit_events.id`` is the order events were recorded in,
  across chains (a view; the MACs cover ``chain`` and ``sequence``, not ``id``).
* ``clock_mark``: one row, the high-water mark of time the processes share (ADR 0042):
  microseconds since the Unix epoch, moved only up by a compare-and-swap, and the number of
  operator resets (``epoch``).
* ``documents``: the catalogue entry of each document (immutable: no version). Document
  bodies are meant to go in a table of their own keyed by ``documents.id`` (a later
  migration), written in the same transaction as the catalogue row (see
  :meth:`.catalogue.SqlCatalogue.add`). ``document_counts`` holds how many documents each
  (subscription, company, theme) has, maintained by atomic increments in the same
  transaction: the catalogue chooses its query plan with it.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from securebox_auth.stores.sql.sqltypes import UtcDateTime, key_string, key_text

__all__ = [
    "ACCOUNTS",
    "AUDIT_ANCHORED",
    "AUDIT_CHAINS",
    "AUDIT_EVENTS",
    "CLOCK_MARK",
    "CODE_CREDENTIALS",
    "DOCUMENTS",
    "DOCUMENT_COUNTS",
    "FACTOR_STATES",
    "INVITATIONS",
    "LOCKOUTS",
    "METADATA",
    "SESSIONS",
    "SUBSCRIPTIONS",
    "SUBSCRIPTION_COMPANIES",
]

# Constraint names are spelled out (PostgreSQL truncates names beyond 63 bytes).
NAMING: Final = {
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA: Final = MetaData(naming_convention=NAMING)

_ID: Final = 64  # identifiers are 1-64 characters (identity.py, model.py)


def _principal_columns() -> list[Column[str]]:
    return [
        Column("client_id", key_string(_ID), primary_key=True),
        Column("user_number", key_string(_ID), primary_key=True),
    ]


def _version() -> Column[int]:
    return Column("version", Integer, nullable=False)


ACCOUNTS: Final = Table(
    "accounts",
    METADATA,
    *_principal_columns(),
    Column("role", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    _version(),
)

CODE_CREDENTIALS: Final = Table(
    "code_credentials",
    METADATA,
    *_principal_columns(),
    Column("hash", Text, nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    Column("must_change", Boolean, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    #: JSON list of earlier hashes, newest first.
    Column("history", Text, nullable=False),
    _version(),
)

LOCKOUTS: Final = Table(
    "lockouts",
    METADATA,
    *_principal_columns(),
    Column("failures", Integer, nullable=False),
    Column("temporary_blocks", Integer, nullable=False),
    Column("blocked_until", UtcDateTime, nullable=True),
    Column("permanent", Boolean, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=True),
    # unused since revision 0003 (ADR 0008: a window is measured from the last failure);
    # kept so that a downgrade gives back the same table
    Column("series_started_at", UtcDateTime, nullable=True),
    # the failure series of each element (ADR 0008), JSON; NULL in rows written before it
    Column("elements", Text, nullable=True),
    _version(),
)

SUBSCRIPTIONS: Final = Table(
    "subscriptions",
    METADATA,
    Column("client_id", key_string(_ID), primary_key=True),
    Column("digital", Boolean, nullable=False),
    #: JSON: companies, themes, rights and invitations (see :mod:`.codec`).
    Column("state", Text, nullable=False),
    _version(),
)

INVITATIONS: Final = Table(
    "subscription_invitations",
    METADATA,
    Column("client_id", key_string(_ID), primary_key=True),
    Column("invitation_id", key_string(_ID), primary_key=True),
    Column("invitee_client_id", key_string(_ID), nullable=False),
    Column("invitee_user_number", key_string(_ID), nullable=False),
    Column("status", String(16), nullable=False),
    ForeignKeyConstraint(
        ["client_id"], ["subscriptions.client_id"], ondelete="CASCADE", name="invitations_sub"
    ),
    Index("ix_invitations_invitee", "invitee_client_id", "invitee_user_number"),
)

#: Which subscriptions hold a company (SIREN) in their portfolio (rewritten with the
#: subscription, like its invitations): a sender publishing to a company finds them.
SUBSCRIPTION_COMPANIES: Final = Table(
    "subscription_companies",
    METADATA,
    Column("company", key_string(9), primary_key=True),
    Column("client_id", key_string(_ID), primary_key=True),
    ForeignKeyConstraint(
        ["client_id"], ["subscriptions.client_id"], ondelete="CASCADE", name="companies_sub"
    ),
)

SESSIONS: Final = Table(
    "sessions",
    METADATA,
    Column("id", key_string(128), primary_key=True),
    Column("client_id", key_string(_ID), nullable=False),
    Column("user_number", key_string(_ID), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("auth_time", UtcDateTime, nullable=False),
    Column("last_activity", UtcDateTime, nullable=False),
    Column("ended", Boolean, nullable=False),
    #: JSON: proofs and unused grants (see :mod:`.codec`).
    Column("state", Text, nullable=False),
    _version(),
    Index("ix_sessions_principal", "client_id", "user_number"),
)

FACTOR_STATES: Final = Table(
    "factor_states",
    METADATA,
    *_principal_columns(),
    Column("kind", key_string(32), primary_key=True),
    Column("item", key_string(128), primary_key=True),
    #: JSON document of the factor's codec; NULL once deleted (a tombstone).
    Column("state", Text, nullable=True),
    _version(),
)

AUDIT_EVENTS: Final = Table(
    "audit_events",
    METADATA,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    #: ``''``: the global chain; else the client identifier of a subscription.
    Column("chain", key_string(_ID), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    #: The event time exactly as sealed (ISO 8601 with its offset): the MAC covers this text.
    Column("at_text", String(40), nullable=False),
    Column("action", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    #: JSON list of [key, value] pairs, as sealed.
    Column("details", Text, nullable=False),
    Column("previous", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
    #: The id of the audit key that sealed the event (``''``: none, sealed before 0009).
    Column("key_id", String(32), nullable=False, server_default=""),
    Index("ix_audit_events_chain", "chain", "sequence", unique=True),
    Index("ix_audit_events_at", "at"),
)

AUDIT_CHAINS: Final = Table(
    "audit_chains",
    METADATA,
    Column("chain", key_string(_ID), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("mac", String(64), nullable=False),
    _version(),
    #: The key id of the head event (``''``: none), so that sealing sees it (ADR 0059).
    Column("key_id", String(32), nullable=False, server_default=""),
)

AUDIT_ANCHORED: Final = Table(
    "audit_anchored",
    METADATA,
    Column("chain", key_string(_ID), primary_key=True),
    #: The tenant chain's sequence the last anchor recorded.
    Column("sequence", BigInteger, nullable=False),
)

CLOCK_MARK: Final = Table(
    "clock_mark",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("epoch", Integer, nullable=False),
)

DOCUMENTS: Final = Table(
    "documents",
    METADATA,
    Column("id", key_string(_ID), primary_key=True),
    Column("client_id", key_string(_ID), nullable=False),
    Column("company", key_string(9), nullable=False),
    Column("theme", key_string(40), nullable=False),
    Column("label", String(200), nullable=False),
    #: ``label.casefold()``: what a label search compares with (as the in-memory catalogue).
    Column("label_folded", key_text(), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    # Each index serves newest-first range scans (issued_at, id descending) of one slice of
    # a subscription's documents; the trailing columns let SQLite test a residual filter
    # on the index entry before it reads the row. See :mod:`.catalogue` for the plans.
    # One company (lists and searches of users with whole themes of few companies):
    Index("ix_documents_company", "client_id", "company", "issued_at", "id", "theme"),
    # One theme of one company (partial rights, theme searches):
    Index("ix_documents_company_theme", "client_id", "company", "theme", "issued_at", "id"),
    # One theme across the subscription (a theme of every company: payroll clerks):
    Index("ix_documents_theme", "client_id", "theme", "issued_at", "id", "company"),
    # The whole subscription (users who see most of it):
    Index("ix_documents_client", "client_id", "issued_at", "id", "company", "theme"),
)

DOCUMENT_COUNTS: Final = Table(
    "document_counts",
    METADATA,
    Column("client_id", key_string(_ID), primary_key=True),
    Column("company", key_string(9), primary_key=True),
    Column("theme", key_string(40), primary_key=True),
    #: Documents in this cell, kept by the catalogue in the same transaction as the
    #: documents: a statistic the catalogue plans its queries with, never an access rule.
    Column("documents", BigInteger, nullable=False),
)
