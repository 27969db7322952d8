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

The digital box (:mod:`securebox_server.box`), revision s0003:

* ``box_document_types``: what a sender publishes, per (sender, type): the theme it is filed
  under, its validity (days; ``NULL``: no end), the warning before expiry (days) and its legal
  retention class and period (years, counted from the document's date);
* ``box_documents``: one row per published document (its catalogue entry, the one entitlements
  decide on, is the library's ``documents`` row of the same id, written in the same commit):
  sender, type, validity and retention clocks, legal hold, the body's SHA-256, size, media type
  and file name; ``status`` ``live`` → ``expired`` (validity over, body kept while retention
  runs) → ``deleted`` (a tombstone: the body removed, the row and its audit events kept);
* ``box_blobs``: bodies kept in the database, by their SHA-256 (one copy for a document sent
  to many companies; removed with the last live document that names it);
* ``box_reads``: the first (and last) view or download of a document by each user;
* ``box_visits``: each user's previous and current visit ("N new documents since ...");
* ``box_publications``: a sender's idempotency keys, with the digest of the request and the
  documents it made (the same key and body give the same documents, never two);
* ``box_notifications``: the transactional outbox, written in the same commit as the document
  (or the expiry warning): one row per user entitled at publication time (and per company
  notification address), leased, retried and sent by the jobs worker;
* ``box_company_contacts``: a company's notification e-mail address (seed 003);
* ``box_feed_heads`` / ``box_events``: the receivers' event feed, numbered per subscription
  under the head row's lock, so sequence numbers commit in order (a reader past ``n`` never
  misses an event numbered below ``n``).

API clients (:mod:`securebox_server.clients`), revision s0004:

* ``api_clients``: the box's OAuth 2.0 clients (senders and receivers' service accounts):
  kind, sender id or subscription and library account, public keys (JWKS) and/or certificate
  thumbprint, scopes, status ``active`` → ``revoked``;
* ``api_client_jtis``: the ``jti`` of every accepted client assertion until it expires (its
  primary key makes single use atomic across processes);
* ``api_tokens``: access tokens by their SHA-256 only (the token is never stored), with
  their scopes, expiry and certificate binding (RFC 8705 ``x5t#S256``).

The jobs (:mod:`securebox_server.jobs`), revision s0005:

* ``job_leases``: named leases (a periodic job, the SQLite worker's outbox), each held by one
  worker until ``lease_until``; the outbox rows carry their own lease (``lease_until``,
  ``leased_by``); ``ix_box_notifications_message`` finds the rows of one digest by its
  ``Message-ID`` (bounces, delivery receipts); since s0011 ``ix_box_notifications_document``
  finds a document's rows of one kind (the users entitled since publication,
  :mod:`securebox_server.box.late_recipients`; a deletion's pending rows); since s0012 a
  row of kind ``share`` is a copy of a document a user sends by e-mail
  (:mod:`securebox_server.box.shares`), with its ``address``, ``note`` and ``language``.

The user's profile (:mod:`securebox_server.profile`), revision s0010:

* ``profile_preferences``: per user, how new documents are announced (``email``, ``sms`` or
  ``none``) and the language of what is sent to them (``fr``, ``en``);
* ``profile_contact_changes``: a pending change of e-mail address or mobile number, single
  use and expiring: the library's challenge id of the code sent to the NEW address and that
  address's keyed digest (never the address in clear), ``pending`` → ``done``/``superseded``.

Keys are SHA-256 digests of the ``limits`` key (which holds an address or an account id), so
the tables never hold a client identifier or an address in clear.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from securebox_auth.stores.sql.sqltypes import UtcDateTime

__all__ = [
    "API_CLIENTS",
    "API_CLIENT_JTIS",
    "API_TOKENS",
    "BOX_BLOBS",
    "BOX_COMPANY_CONTACTS",
    "BOX_DOCUMENTS",
    "BOX_DOCUMENT_TYPES",
    "BOX_EVENTS",
    "BOX_FEED_HEADS",
    "BOX_NOTIFICATIONS",
    "BOX_PUBLICATIONS",
    "BOX_READS",
    "BOX_VISITS",
    "JOB_LEASES",
    "METADATA",
    "PROFILE_CONTACT_CHANGES",
    "PROFILE_PREFERENCES",
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
    #: since s0013 (was ``key, at``): a hit's delete of expired entries and its count read
    #: the index, not every entry of the key
    sa.Index("ix_rate_limit_entries_key_expires_at", "key", "expires_at"),
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

# -- the digital box (revision s0003) ------------------------------------------------------

_ID = 64  # document, client and user identifiers are 1-64 characters

BOX_DOCUMENT_TYPES: Final = sa.Table(
    "box_document_types",
    METADATA,
    sa.Column("sender", sa.String(_ID), primary_key=True),
    sa.Column("type", sa.String(_ID), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("theme", sa.String(40), nullable=False),
    sa.Column("validity_days", sa.Integer(), nullable=True),
    sa.Column("warning_days", sa.Integer(), nullable=False),
    sa.Column("retention_class", sa.String(40), nullable=False),
    sa.Column("retention_years", sa.Integer(), nullable=False),
)

BOX_DOCUMENTS: Final = sa.Table(
    "box_documents",
    METADATA,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("company", sa.String(9), nullable=False),
    sa.Column("sender", sa.String(_ID), nullable=False),
    sa.Column("type", sa.String(_ID), nullable=False),
    sa.Column("theme", sa.String(40), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=False),
    sa.Column("valid_until", UtcDateTime(), nullable=True),
    sa.Column("warn_at", UtcDateTime(), nullable=True),
    sa.Column("warned_at", UtcDateTime(), nullable=True),
    sa.Column("retention_class", sa.String(40), nullable=False),
    sa.Column("retain_until", UtcDateTime(), nullable=False),
    sa.Column("legal_hold", sa.Boolean(), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expired_at", UtcDateTime(), nullable=True),
    sa.Column("deleted_at", UtcDateTime(), nullable=True),
    sa.Column("deletion_reason", sa.String(40), nullable=True),
    sa.Index("ix_box_documents_sender", "sender", "published_at", "id"),
    sa.Index("ix_box_documents_valid_until", "status", "valid_until"),
    sa.Index("ix_box_documents_warn_at", "status", "warn_at"),
    sa.Index("ix_box_documents_digest", "digest"),
    # revision s0006: the home page's "new since your last visit" (box.new_documents)
    sa.Index("ix_box_documents_published", "client_id", "published_at"),
)

BOX_BLOBS: Final = sa.Table(
    "box_blobs",
    METADATA,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

BOX_READS: Final = sa.Table(
    "box_reads",
    METADATA,
    sa.Column("document_id", sa.String(_ID), primary_key=True),
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("user_number", sa.String(_ID), primary_key=True),
    sa.Column("first_at", UtcDateTime(), nullable=False),
    sa.Column("last_at", UtcDateTime(), nullable=False),
    sa.Column("first_how", sa.String(16), nullable=False),
    sa.Index("ix_box_reads_user", "client_id", "user_number", "document_id"),
)

BOX_VISITS: Final = sa.Table(
    "box_visits",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("user_number", sa.String(_ID), primary_key=True),
    sa.Column("previous_at", UtcDateTime(), nullable=True),
    sa.Column("current_at", UtcDateTime(), nullable=False),
)

BOX_PUBLICATIONS: Final = sa.Table(
    "box_publications",
    METADATA,
    sa.Column("sender", sa.String(_ID), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("result", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

BOX_NOTIFICATIONS: Final = sa.Table(
    "box_notifications",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("document_id", sa.String(_ID), nullable=False),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("company", sa.String(9), nullable=False),
    #: the user notified; NULL for the company's notification address
    sa.Column("user_number", sa.String(_ID), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("leased_by", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.Column("channel", sa.String(8), nullable=True),
    sa.Column("message_id", sa.String(200), nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    #: a share (kind ``share``, since s0012): the address the user gave, their note (cleared
    #: once the row is final) and the message's language; NULL for every other kind
    sa.Column("address", sa.String(254), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("language", sa.String(8), nullable=True),
    sa.Index("ix_box_notifications_due", "status", "next_attempt_at"),
    sa.Index("ix_box_notifications_recipient", "client_id", "user_number", "status"),
    sa.Index("ix_box_notifications_document", "document_id", "kind"),
)

BOX_COMPANY_CONTACTS: Final = sa.Table(
    "box_company_contacts",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("company", sa.String(9), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Column("changed_by", sa.String(_ID), nullable=False),
)

BOX_FEED_HEADS: Final = sa.Table(
    "box_feed_heads",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
)

BOX_EVENTS: Final = sa.Table(
    "box_events",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("document_id", sa.String(_ID), nullable=False),
    sa.Column("company", sa.String(9), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),
)


# -- API clients (revision s0004) ------------------------------------------------------------

API_CLIENTS: Final = sa.Table(
    "api_clients",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sender", sa.String(_ID), nullable=True),
    sa.Column("subscription", sa.String(_ID), nullable=True),
    sa.Column("principal", sa.String(130), nullable=True),
    sa.Column("companies", sa.Text(), nullable=False),
    sa.Column("jwks", sa.Text(), nullable=True),
    sa.Column("certificate_sha256", sa.String(64), nullable=True),
    sa.Column("scopes", sa.String(400), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Index("ix_api_clients_sender", "sender"),
    sa.Index("ix_api_clients_subscription", "subscription"),
    sa.Index("ix_api_clients_certificate", "certificate_sha256", unique=True),
)

API_CLIENT_JTIS: Final = sa.Table(
    "api_client_jtis",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_api_client_jtis_expires", "expires_at"),
)

API_TOKENS: Final = sa.Table(
    "api_tokens",
    METADATA,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("scopes", sa.String(400), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("certificate_sha256", sa.String(64), nullable=True),
    sa.Index("ix_api_tokens_client", "client_id"),
    sa.Index("ix_api_tokens_expires", "expires_at"),
)


# -- the jobs (revision s0005) ----------------------------------------------------------------

#: Named leases of the jobs worker (:mod:`securebox_server.jobs.leases`): one row per periodic
#: job (``expiry_warnings``, ``expiry``, ``purge``) and, on SQLite, the ``outbox`` lease of the
#: one worker that sends; ``holder`` is the worker's id, ``lease_until`` when another worker
#: may take it over (a crashed worker's lease simply runs out), ``last_run_at`` when the job
#: last finished a pass.
JOB_LEASES: Final = sa.Table(
    "job_leases",
    METADATA,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("last_run_at", UtcDateTime(), nullable=True),
)

#: The rows of one digest (a Message-ID names them all): bounces and receipts find them.
sa.Index(
    "ix_box_notifications_message",
    BOX_NOTIFICATIONS.c.message_id,
    BOX_NOTIFICATIONS.c.status,
)

#: The user's notification preferences (:mod:`securebox_server.profile.store`).
PROFILE_PREFERENCES: Final = sa.Table(
    "profile_preferences",
    METADATA,
    sa.Column("client_id", sa.String(_ID), primary_key=True),
    sa.Column("user_number", sa.String(_ID), primary_key=True),
    sa.Column("new_documents", sa.String(8), nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
)

#: Pending changes of contact details (:mod:`securebox_server.profile.contacts`).
PROFILE_CONTACT_CHANGES: Final = sa.Table(
    "profile_contact_changes",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("user_number", sa.String(_ID), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("reference", sa.String(128), nullable=False),
    sa.Column("challenge_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Index("ix_profile_contact_changes_user", "client_id", "user_number", "status"),
)


# -- administration of users (revision s0007) -------------------------------------------------

#: What the bank's guide records about a user that the library's account does not: civility,
#: names, phones, e-mail and function (:mod:`securebox_server.admin.profiles`), keyed by the
#: principal (``client:user``). Contact details here are as the administrator entered them:
#: a regenerated confidential code never goes to them, only to the user's verified
#: destinations or a letter (ADR 0038).
ADMIN_USER_PROFILES: Final = sa.Table(
    "admin_user_profiles",
    METADATA,
    sa.Column("principal", sa.String(130), primary_key=True),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("civility", sa.String(8), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("mobile", sa.String(20), nullable=True),
    sa.Column("phone", sa.String(20), nullable=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("function", sa.String(100), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_admin_user_profiles_client", "client_id"),
)

# -- account recovery (revision s0009) --------------------------------------------------------

#: Recovery flows (:mod:`securebox_server.recovery.store`): one row per flow, its ``kind``
#: and ``state`` (:mod:`securebox_auth.flows.recovery`), the claimed principal once given
#: (``NULL`` while awaiting the address, and for a claim that matched no account: the row
#: exists either way), the HMAC-SHA256 of the link token sent by e-mail (the token itself is
#: never stored), wrong answers, expiry and a version for compare-and-swap. A newer request
#: of the same principal and kind fails the older flows in the same transaction; following a
#: link moves its row under a ``version`` guard, so one of two concurrent uses wins.
RECOVERY_FLOWS: Final = sa.Table(
    "recovery_flows",
    METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("user_number", sa.String(64), nullable=True),
    sa.Column("token_digest", sa.String(64), nullable=True),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_recovery_flows_token", "token_digest", unique=True),
    sa.Index("ix_recovery_flows_principal", "client_id", "user_number", "kind"),
    sa.Index("ix_recovery_flows_expires", "expires_at"),
)

# -- companies and third parties (revision s0008) ---------------------------------------------

#: One row per third-party invitation (:mod:`securebox_server.invitations`): the library's
#: invitation id (its status is the library's), the inviting subscription, the third party
#: as declared (SIREN, name, e-mail address), the invitee's principal key, whether the
#: account was opened for this invitation, and the link's token as its SHA-256 only; a link
#: works until ``expires_at`` and once (``used_at`` is set by the accept or decline).
THIRD_PARTY_INVITATIONS: Final = sa.Table(
    "third_party_invitations",
    METADATA,
    sa.Column("invitation_id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(_ID), nullable=False),
    sa.Column("siren", sa.String(9), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("invitee", sa.String(130), nullable=False),
    sa.Column("new_account", sa.Boolean(), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("used_at", UtcDateTime(), nullable=True),
    sa.Index("ix_third_party_invitations_token", "token_sha256", unique=True),
    sa.Index("ix_third_party_invitations_client", "client_id"),
)
