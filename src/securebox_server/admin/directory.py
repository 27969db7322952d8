"""What the administration pages show about a subscription's users: each account with its
profile and status, the companies and themes rights can name, and the box's documents an
individual right can pick. Reads only; every decision is the library's."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Rights
from securebox_auth.identity import ClientId
from securebox_auth.lockout.rules import BlockStatus, block_status
from securebox_auth.shell.securebox import Securebox
from securebox_server.admin.profiles import Profile, ProfileBook
from securebox_server.box.readable import readable_at
from securebox_server.db.schema import BOX_DOCUMENTS

__all__ = ["Row", "Status", "documents_of", "rows_of"]


class Status(enum.StrEnum):
    """``pending``: the user has not yet replaced their one-time code (their access is not
    taken up); ``added``: they have; ``blocked``: too many failures; ``removed``."""

    PENDING = "pending"
    ADDED = "added"
    BLOCKED = "blocked"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Row:
    account: Account
    profile: Profile | None
    status: Status
    rights: Rights


def _status(box: Securebox, account: Account) -> Status:
    if not account.active:
        return Status.REMOVED
    lockout = box.store.get_lockout(account.principal).value
    if block_status(lockout, box.clock.now()) is not BlockStatus.OPEN:
        return Status.BLOCKED
    code = box.store.get_code(account.principal)
    if code is None or code.value.must_change:
        return Status.PENDING
    return Status.ADDED


def rows_of(box: Securebox, profiles: ProfileBook, client_id: ClientId) -> list[Row]:
    found = profiles.of(client_id)
    sub = box.store.get_subscription(client_id)
    rows = []
    for account in box.store.accounts_of(client_id):
        rights = sub.value.rights_of(account.principal) if sub else Rights()
        status = _status(box, account)
        rows.append(Row(account, found.get(account.principal.key), status, rights))
    return rows


def documents_of(
    engine: Engine, client_id: ClientId, now: datetime, limit: int = 100
) -> list[tuple[str, str]]:
    """The subscription's documents readers can open at ``now`` (id, label), newest first,
    for partial rights (one past its validity is offered no more)."""
    query = (
        sa.select(BOX_DOCUMENTS.c.id, BOX_DOCUMENTS.c.label)
        .where(BOX_DOCUMENTS.c.client_id == client_id.value, readable_at(now))
        .order_by(BOX_DOCUMENTS.c.published_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row.id, row.label) for row in conn.execute(query)]
