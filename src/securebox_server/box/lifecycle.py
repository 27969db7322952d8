"""A document's life after publication: the expiry warning, the end of validity, deletion
(the one path every deletion takes, retention and legal hold checked there), the legal hold,
and the company's notification address (ADR 0030).

The clocks (:meth:`Lifecycle.warn_expiring`, :meth:`Lifecycle.expire`) are called by the
jobs worker; each document is handled in its own commit, decided again inside it (a
conditional ``UPDATE``), so two workers never handle one document twice.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from securebox_auth.audit import SUBSCRIPTION_DETAIL, AuditEvent
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.shell.retry import retrying
from securebox_server.box import feed
from securebox_server.box.base import StoreBase, audit_actor, document_subject
from securebox_server.box.model import (
    BoxDocument,
    DeletionRefused,
    DocumentNotFound,
    FeedKind,
    Status,
)
from securebox_server.box.publishing import notification_rows
from securebox_server.box.recipients import invitees, recipients
from securebox_server.box.retention import Deletion, deletion, on_validity_end
from securebox_server.box.rows import document_from_row, reference
from securebox_server.box.shares import SHARE
from securebox_server.db.schema import (
    BOX_DOCUMENTS,
    BOX_NOTIFICATIONS,
)

__all__ = ["Lifecycle", "hold_reason"]

log = logging.getLogger("securebox.box")
_REASON: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_REFUSALS: Final = {
    Deletion.RETENTION: "the legal retention period of this document has not ended",
    Deletion.LEGAL_HOLD: "this document is under a legal hold",
}
_MAX_BATCH: Final = 5000
_HOLD_REASON: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


class _Skip(Exception):
    """The document changed since it was chosen: this commit does nothing."""


def hold_reason(value: object) -> str:
    """Why a hold is set or lifted: 1-200 characters, no control character."""
    if not isinstance(value, str) or not _HOLD_REASON.fullmatch(value.strip()):
        raise MalformedInput("a hold's reason is 1-200 characters, no control character")
    return value.strip()


def _limit(value: object) -> int:
    if not isinstance(value, int) or not 1 <= value <= _MAX_BATCH:
        raise MalformedInput(f"a batch handles 1 to {_MAX_BATCH} documents")
    return value


class Lifecycle(StoreBase):
    def _event(
        self, doc: BoxDocument, action: str, actor: str, outcome: str = "success", **details: str
    ) -> AuditEvent:
        return AuditEvent.make(
            self.clock.now(),
            action,
            actor=actor,
            subject=document_subject(doc.id),
            outcome=outcome,
            details={SUBSCRIPTION_DETAIL: doc.client_id.value, **details},
        )

    def _due(
        self, *conditions: ColumnElement[bool], order: ColumnElement[Any], limit: int
    ) -> list[BoxDocument]:
        query = select(BOX_DOCUMENTS).where(*conditions).order_by(order).limit(limit)
        with self.engine.connect() as conn:
            return [document_from_row(r) for r in conn.execute(query).mappings()]

    # -- the expiry warning ---------------------------------------------------------------

    def warn_expiring(self, *, limit: int = 500) -> int:
        """Documents whose warning time came: outbox rows (users entitled now, the company
        address) and a ``document.expiry_warning`` feed event, once per document."""
        now = self.clock.now()
        due = self._due(
            BOX_DOCUMENTS.c.status == Status.LIVE.value,
            BOX_DOCUMENTS.c.warn_at <= now,
            BOX_DOCUMENTS.c.warned_at.is_(None),
            order=BOX_DOCUMENTS.c.warn_at,
            limit=_limit(limit),
        )
        return sum(1 for doc in due if self._warn(doc))

    def _warn(self, doc: BoxDocument) -> bool:
        sub = self.store.get_subscription(doc.client_id)
        if sub is None:
            return False
        now = self.clock.now()
        accounts = list(self.store.accounts_of(doc.client_id))
        for invitee in invitees(sub.value, now):
            found = self.store.get_account(invitee)
            if found is not None:
                accounts.append(found.value)
        told = recipients(
            reference(doc),
            sub.value,
            accounts,
            has_company_address=self.company_contact(doc.client_id, doc.company) is not None,
            now=now,
            machines=self.machines(doc.client_id),
        )
        event = self._event(doc, "box.document.expiry_warning", "system")

        def write(conn: Connection) -> None:
            marked = conn.execute(
                update(BOX_DOCUMENTS)
                .where(
                    BOX_DOCUMENTS.c.id == doc.id,
                    BOX_DOCUMENTS.c.status == Status.LIVE.value,
                    BOX_DOCUMENTS.c.warned_at.is_(None),
                )
                .values(warned_at=now)
            )
            if marked.rowcount != 1:
                raise _Skip
            rows = notification_rows("expiry_warning", doc, told, now)
            if rows:
                conn.execute(BOX_NOTIFICATIONS.insert(), rows)
            until = "" if doc.valid_until is None else doc.valid_until.isoformat()
            details = {"valid_until": until}
            feed.append(
                conn, doc.client_id, [(FeedKind.EXPIRY_WARNING, doc.id, doc.company, details)], now
            )

        try:
            retrying(lambda: self.store.commit([], [event], also=write), what="document")
        except _Skip:
            return False
        return True

    # -- the end of validity --------------------------------------------------------------

    def expire(self, *, limit: int = 500) -> int:
        """Documents whose validity ended: deleted, or ``EXPIRED`` (out of the box, body
        kept) while their retention runs or a hold is set; expired documents whose
        retention ended (and not held) are deleted."""
        now = self.clock.now()
        due = self._due(
            or_(
                and_(
                    BOX_DOCUMENTS.c.status == Status.LIVE.value,
                    BOX_DOCUMENTS.c.valid_until <= now,
                ),
                and_(
                    BOX_DOCUMENTS.c.status == Status.EXPIRED.value,
                    BOX_DOCUMENTS.c.retain_until <= now,
                    BOX_DOCUMENTS.c.legal_hold.is_(False),
                ),
            ),
            order=BOX_DOCUMENTS.c.valid_until,
            limit=_limit(limit),
        )
        handled = 0
        for doc in due:
            then = on_validity_end(
                status=doc.status,
                valid_until=doc.valid_until,
                retain_until=doc.retain_until,
                legal_hold=doc.legal_hold,
                now=now,
            )
            try:
                if then is Status.DELETED:
                    self._delete(doc.id, reason="expired", actor="system")
                elif then is Status.EXPIRED:
                    self._expire(doc)
                else:
                    continue
            except (_Skip, DeletionRefused, DocumentNotFound):
                continue
            handled += 1
        return handled

    def _expire(self, doc: BoxDocument) -> None:
        now = self.clock.now()
        event = self._event(doc, "box.document.expired", "system")

        def write(conn: Connection) -> None:
            changed = conn.execute(
                update(BOX_DOCUMENTS)
                .where(BOX_DOCUMENTS.c.id == doc.id, BOX_DOCUMENTS.c.status == Status.LIVE.value)
                .values(status=Status.EXPIRED.value, expired_at=now)
            )
            if changed.rowcount != 1:
                raise _Skip
            self.catalogue.remove([doc.id], connection=conn)

        retrying(lambda: self.store.commit([], [event], also=write), what="document")

    # -- deletion -------------------------------------------------------------------------

    def delete(self, document_id: str, *, reason: str, actor: str) -> None:
        """THE deletion path (a sender's withdrawal, an administrator, the end of
        validity): refused with :class:`DeletionRefused` (and an audit event) while the
        retention period runs or a legal hold is set; otherwise the body is removed (with
        the last document naming it), the catalogue row too, and the row stays as a
        tombstone, with an audit event and a ``document.deleted`` feed event. Deleting a
        tombstone again does nothing."""
        if not isinstance(reason, str) or not _REASON.fullmatch(reason):
            raise MalformedInput("a deletion reason is 1-40 of a-z 0-9 _")
        self._delete(document_id, reason=reason, actor=audit_actor(actor))

    def _delete(self, document_id: str, *, reason: str, actor: str) -> None:
        dropped = retrying(lambda: self._delete_once(document_id, reason, actor), what="document")
        if dropped is not None:
            self.blobs.purge(dropped)

    def _delete_once(self, document_id: str, reason: str, actor: str) -> str | None:
        doc = self.get(document_id)
        if doc is None:
            raise DocumentNotFound("no such document")
        now = self.clock.now()
        verdict = deletion(
            status=doc.status, retain_until=doc.retain_until, legal_hold=doc.legal_hold, now=now
        )
        if verdict is Deletion.DELETED:
            return None
        if verdict is not Deletion.ALLOWED:
            refusal = self._event(
                doc, "box.document.deletion_refused", actor, "failure", reason=verdict.value
            )
            self.store.commit([], [refusal])
            raise DeletionRefused(_REFUSALS[verdict])
        event = self._event(doc, "box.document.deleted", actor, reason=reason)
        dropped: list[str] = []

        def write(conn: Connection) -> None:
            # The hold and the status are decided again here, under the row's update.
            changed = conn.execute(
                update(BOX_DOCUMENTS)
                .where(
                    BOX_DOCUMENTS.c.id == doc.id,
                    BOX_DOCUMENTS.c.status == doc.status.value,
                    BOX_DOCUMENTS.c.legal_hold.is_(False),
                )
                .values(status=Status.DELETED.value, deleted_at=now, deletion_reason=reason)
            )
            if changed.rowcount != 1:
                raise ConcurrentUpdate("the document changed; decide again")
            self.catalogue.remove([doc.id], connection=conn)
            if self.blobs.drop(conn, doc.digest):
                dropped.append(doc.digest)
            conn.execute(
                update(BOX_NOTIFICATIONS)
                .where(
                    BOX_NOTIFICATIONS.c.document_id == doc.id,
                    BOX_NOTIFICATIONS.c.status == "pending",
                )
                .values(status="dropped", last_error="document deleted")
            )
            # the addresses its sharers sent it to leave with it (ADR 0068)
            conn.execute(
                update(BOX_NOTIFICATIONS)
                .where(
                    BOX_NOTIFICATIONS.c.document_id == doc.id,
                    BOX_NOTIFICATIONS.c.kind == SHARE,
                )
                .values(address=None, note=None)
            )
            details = {"reason": reason}
            feed.append(
                conn, doc.client_id, [(FeedKind.DELETED, doc.id, doc.company, details)], now
            )

        self.store.commit([], [event], also=write)
        log.info("box: document %s deleted (%s)", doc.id, reason)
        return dropped[0] if dropped else None

    def set_legal_hold(
        self, document_id: str, hold: bool, *, actor: str, reason: str | None = None
    ) -> None:
        """Set or lift a legal hold (a tombstone has none: :class:`DocumentNotFound`);
        ``reason`` (a court order, a dispute's reference) goes into the audit event."""
        if not isinstance(hold, bool):
            raise MalformedInput("hold is true or false")
        actor = audit_actor(actor)
        said = {} if reason is None else {"reason": hold_reason(reason)}

        def once() -> None:
            doc = self.get(document_id)
            if doc is None or doc.status is Status.DELETED:
                raise DocumentNotFound("no such document")
            event = self._event(
                doc, "box.document.legal_hold", actor, hold=str(hold).lower(), **said
            )

            def write(conn: Connection) -> None:
                changed = conn.execute(
                    update(BOX_DOCUMENTS)
                    .where(
                        BOX_DOCUMENTS.c.id == doc.id,
                        BOX_DOCUMENTS.c.status != Status.DELETED.value,
                    )
                    .values(legal_hold=hold)
                )
                if changed.rowcount != 1:
                    raise ConcurrentUpdate("the document changed; decide again")

            self.store.commit([], [event], also=write)

        retrying(once, what="document")
