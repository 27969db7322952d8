"""The users entitled to a document at sending time who were not at its publication
(ADR 0033, "at sending time").

A document's outbox rows are written in its publication's commit (or its expiry warning's),
one per user entitled then (:mod:`.publishing`); the sender checks each row again when it
sends and drops those of users no longer entitled (:mod:`securebox_server.jobs.sender`).
This pass closes the other side: while a document's announcement is still being sent (it
has ``pending`` rows of that kind), a user who became entitled since (a third party that
accepted its invitation, a user given the theme or the company, a new user) and the
company's notification address set since get their row too. Everyone entitled at sending
time is told, once: a recipient who already has a row for the document and the kind,
whatever its status, gets no other (a row ``dropped`` for a user no longer entitled is not
made again when the right comes back).

The jobs worker runs it before each sending pass (:mod:`securebox_server.jobs.wiring`, task
``newly_entitled``) under a named lease: one worker at a time, so that two passes never add
the same row twice. A document announced once its rows are all sent, dropped or dead is
not announced again (its sending time is over: the user finds it in the box, in the "new
documents since your last visit" count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal
from securebox_server.box.base import StoreBase
from securebox_server.box.model import BoxDocument
from securebox_server.box.publishing import notification_rows
from securebox_server.box.readable import readable_at
from securebox_server.box.recipients import invitees, recipients
from securebox_server.box.rows import document_from_row, reference
from securebox_server.box.shares import SHARE
from securebox_server.db.schema import BOX_DOCUMENTS, BOX_NOTIFICATIONS

__all__ = ["LateRecipients"]

_N: Final = BOX_NOTIFICATIONS
_PENDING: Final = "pending"
_MAX_BATCH: Final = 5000


@dataclass(frozen=True, slots=True)
class _Audience:
    """A subscription's side of the entitlement check: its value, the accounts that may be
    told (its own users and its accepted third parties), its service accounts."""

    subscription: Subscription
    accounts: tuple[Account, ...]
    machines: frozenset[Principal]


class LateRecipients(StoreBase):
    def tell_newly_entitled(self, *, limit: int = 2000) -> int:
        """Outbox rows for the recipients entitled now to a document whose announcement is
        still pending; the number of rows added. It looks at the ``limit`` pending rows
        due first (the outbox's due index: what the sender claims next), so a pass costs
        the same whatever the backlog."""
        if not isinstance(limit, int) or not 1 <= limit <= _MAX_BATCH:
            raise MalformedInput(f"a batch looks at 1 to {_MAX_BATCH} outbox rows")
        query = (
            select(_N.c.document_id, _N.c.kind)
            .where(_N.c.status == _PENDING, _N.c.kind != SHARE)  # a share tells no one else
            .order_by(_N.c.next_attempt_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            pending = list(dict.fromkeys((str(d), str(k)) for d, k in conn.execute(query)))
        if not pending:
            return 0
        now = self.clock.now()
        live = self._live(sorted({d for d, _ in pending}), now)
        audiences: dict[ClientId, _Audience | None] = {}
        added = 0
        for document_id, kind in pending:
            doc = live.get(document_id)
            if doc is None:
                continue
            if doc.client_id not in audiences:
                audiences[doc.client_id] = self._audience(doc.client_id, now)
            audience = audiences[doc.client_id]
            if audience is not None:
                added += self._tell(doc, kind, audience, now)
        return added

    def _live(self, ids: Sequence[str], now: datetime) -> dict[str, BoxDocument]:
        """The documents among ``ids`` a reader can open at ``now`` (live, still valid)."""
        query = select(BOX_DOCUMENTS).where(BOX_DOCUMENTS.c.id.in_(ids), readable_at(now))
        with self.engine.connect() as conn:
            found = [document_from_row(r) for r in conn.execute(query).mappings()]
        return {doc.id: doc for doc in found}

    def _audience(self, client_id: ClientId, now: datetime) -> _Audience | None:
        found = self.store.get_subscription(client_id)
        if found is None:
            return None
        accounts = list(self.store.accounts_of(client_id))
        for invitee in invitees(found.value, now):
            account = self.store.get_account(invitee)
            if account is not None:
                accounts.append(account.value)
        return _Audience(found.value, tuple(accounts), self.machines(client_id))

    def _tell(self, doc: BoxDocument, kind: str, audience: _Audience, now: datetime) -> int:
        told = recipients(
            reference(doc),
            audience.subscription,
            audience.accounts,
            has_company_address=self.company_contact(doc.client_id, doc.company) is not None,
            now=now,
            machines=audience.machines,
        )
        rows = notification_rows(kind, doc, told, now)
        if not rows:
            return 0
        with self.db.transaction() as conn:
            known = {
                (str(c), None if u is None else str(u))
                for c, u in conn.execute(
                    select(_N.c.client_id, _N.c.user_number).where(
                        _N.c.document_id == doc.id, _N.c.kind == kind
                    )
                )
            }
            new = [r for r in rows if (r["client_id"], r["user_number"]) not in known]
            if new:
                conn.execute(_N.insert(), new)
        return len(new)
