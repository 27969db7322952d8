"""The digital box's shell over SQL: :class:`DocumentStore` (the contract of ADR 0030).

Every change is **one** commit of the library's store (:meth:`~securebox_auth.stores.sql.
store.SqlStore.commit` with ``also=``): the box's rows, the catalogue row, the body (or its
reference), the outbox and feed rows and the audit events sealed into the subscriptions'
chains commit together or not at all. The decisions (clocks, retention, recipients) are
pure functions of :mod:`.retention` and :mod:`.recipients`; the times come from the
Securebox's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import Connection, select

from securebox_auth.audit import SUBSCRIPTION_DETAIL, AuditEvent
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, UserNumber
from securebox_server.box import feed
from securebox_server.box.base import document_subject
from securebox_server.box.batches import Batches
from securebox_server.box.blobs import Streamed, checked_chunks, verify
from securebox_server.box.contacts import CompanyContacts
from securebox_server.box.late_recipients import LateRecipients
from securebox_server.box.lifecycle import Lifecycle
from securebox_server.box.model import (
    BodyCorrupted,
    BoxDocument,
    DocumentNotFound,
    FeedEvent,
    FeedKind,
    Read,
    ReadKind,
    Status,
    sender_name,
)
from securebox_server.box.rows import document_from_row, instant
from securebox_server.box.shares import Shares
from securebox_server.db.schema import BOX_DOCUMENTS, BOX_READS, BOX_VISITS
from securebox_server.web.metrics import BODY_CORRUPTED

__all__ = ["DocumentStore"]

log = logging.getLogger("securebox.box")


class DocumentStore(Batches, Lifecycle, CompanyContacts, LateRecipients, Shares):
    """The box's documents (the contract of ADR 0030): see the module documentation."""

    # -- reading a document ---------------------------------------------------------------

    def body(self, doc: BoxDocument) -> bytes:
        """The body, its digest checked; a tombstone has none (:class:`DocumentNotFound`).
        A damaged body raises :class:`BodyCorrupted` after an audit event, a log line and
        the ``securebox_box_body_corrupted`` counter: it is never served."""
        if doc.status is Status.DELETED:
            raise DocumentNotFound("no such document")
        try:
            return self.blobs.read(doc.digest)
        except BodyCorrupted:
            self._corrupted(doc)
            raise

    def shared_body(self, document_id: str) -> tuple[BoxDocument, bytes] | None:
        """The live document and its body (digest checked) for a share being sent
        (:mod:`.shares`); ``None`` when it is gone or its body is damaged (reported as
        :meth:`body` reports it)."""
        doc = self.get(document_id)
        if doc is None or doc.status is not Status.LIVE:
            return None
        try:
            return doc, self.body(doc)
        except BodyCorrupted:
            return None

    def stream(self, doc: BoxDocument) -> Streamed:
        """The body as chunks of at most :data:`~securebox_server.box.blobs.CHUNK` bytes:
        checked whole first (a first pass that hashes, keeping the chunks of a body up to
        :data:`~securebox_server.box.blobs.KEPT` bytes, sent from memory; a failure is
        :meth:`body`'s); a larger body is read again and hashed again as it is sent, its
        last chunk held back until the digest matched. A body changed between the passes raises
        :class:`BodyCorrupted` from the iterator, after the same alert: the answer is cut
        short (its ``Content-Length`` unmet), never completed."""
        if doc.status is Status.DELETED:
            raise DocumentNotFound("no such document")
        try:
            checked = verify(self.blobs, doc.digest)
        except BodyCorrupted:
            self._corrupted(doc)
            raise
        if checked.kept is not None:  # small: sent from the first pass's memory
            return Streamed(checked.size, iter(checked.kept))
        return Streamed(checked.size, self._second_pass(doc, checked.size))

    def _second_pass(self, doc: BoxDocument, size: int) -> Iterator[bytes]:
        try:
            yield from checked_chunks(self.blobs, doc.digest, size)
        except BodyCorrupted:
            self._corrupted(doc)
            raise

    def _corrupted(self, doc: BoxDocument) -> None:
        """The alert for a body that failed its digest (nothing when the document was
        deleted meanwhile: :class:`DocumentNotFound`)."""
        now = self.get(doc.id)
        if now is None or now.status is Status.DELETED:  # deleted since it was read
            raise DocumentNotFound("no such document") from None
        BODY_CORRUPTED.inc()
        log.error("box: the body of document %s fails its digest", doc.id)
        event = AuditEvent.make(
            self.clock.now(),
            "box.document.body_corrupted",
            actor="system",
            subject=document_subject(doc.id),
            outcome="failure",
            details={SUBSCRIPTION_DETAIL: doc.client_id.value, "digest": doc.digest},
        )
        self.store.commit([], [event])

    def record_read(self, doc: BoxDocument, reader: Principal, how: ReadKind) -> None:
        """A view or download: an audit event, the reader's first/last read, and on the
        document's first read by anyone a ``document.read`` feed event."""
        how = ReadKind(how)
        if doc.status is Status.DELETED:
            raise DocumentNotFound("no such document")
        now = self.clock.now()
        event = AuditEvent.make(
            now,
            f"box.document.{how.value}",
            actor=reader.key,
            subject=document_subject(doc.id),
            outcome="success",
            details={SUBSCRIPTION_DETAIL: doc.client_id.value, "digest": doc.digest},
        )
        key = {
            "document_id": doc.id,
            "client_id": reader.client_id.value,
            "user_number": reader.user_number.value,
        }

        def write(conn: Connection) -> None:
            # The subscription's audit head is locked: first reads are decided one by one.
            earlier = conn.execute(
                select(BOX_READS.c.document_id).where(BOX_READS.c.document_id == doc.id).limit(1)
            ).first()
            stmt = self.upsert(BOX_READS).values(
                **key, first_at=now, last_at=now, first_how=how.value
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(key), set_={"last_at": stmt.excluded.last_at}
                )
            )
            if earlier is None:
                details = {"reader": reader.key, "how": how.value}
                feed.append(
                    conn, doc.client_id, [(FeedKind.READ, doc.id, doc.company, details)], now
                )

        self.store.commit([], [event], also=write)

    def first_read(self, document_id: str) -> Read | None:
        query = (
            select(BOX_READS)
            .where(BOX_READS.c.document_id == document_id)
            .order_by(BOX_READS.c.first_at, BOX_READS.c.client_id, BOX_READS.c.user_number)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        reader = Principal(ClientId(row["client_id"]), UserNumber(row["user_number"]))
        return Read(reader, instant(row["first_at"]), ReadKind(row["first_how"]))

    def read_by(
        self, reader: Principal, ids: Collection[str], since: datetime | None = None
    ) -> set[str]:
        """Which of ``ids`` ``reader`` has read (since ``since``: their account's creation,
        so that a user number given again does not inherit its previous holder's marks)."""
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                query = select(BOX_READS.c.document_id).where(
                    BOX_READS.c.client_id == reader.client_id.value,
                    BOX_READS.c.user_number == reader.user_number.value,
                    BOX_READS.c.document_id.in_(wanted[start : start + 500]),
                )
                if since is not None:
                    query = query.where(BOX_READS.c.last_at >= since)
                found.update(str(r[0]) for r in conn.execute(query))
        return found

    def visit(self, reader: Principal) -> datetime | None:
        """Record a visit now; the one before (``None``: the first visit)."""
        now = self.clock.now()
        key = {"client_id": reader.client_id.value, "user_number": reader.user_number.value}
        stmt = self.upsert(BOX_VISITS).values(**key, previous_at=None, current_at=now)
        rotate = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={"previous_at": BOX_VISITS.c.current_at, "current_at": now},
        ).returning(BOX_VISITS.c.previous_at)  # the row as written: the visit before
        with self.db.transaction() as conn:  # one statement: the row lock is the upsert's
            previous = conn.execute(rotate).scalar_one()
        return None if previous is None else instant(previous)

    # -- feeds ----------------------------------------------------------------------------

    def feed(self, client_id: ClientId, *, after: int, limit: int) -> list[FeedEvent]:
        feed.check_page(after, limit)
        return feed.page(self.engine, client_id, after=after, limit=limit)

    def published_by(self, sender: str, *, after: str | None, limit: int) -> list[BoxDocument]:
        """A sender's documents, newest first, after the document ``after`` (keyset)."""
        sender_name(sender)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            raise MalformedInput("a page holds 1 to 200 documents")
        query = select(BOX_DOCUMENTS).where(BOX_DOCUMENTS.c.sender == sender)
        if after is not None:
            mark = self.get(after)
            if mark is None or mark.sender != sender:
                raise MalformedInput("unknown cursor")
            query = query.where(
                (BOX_DOCUMENTS.c.published_at < mark.published_at)
                | (
                    (BOX_DOCUMENTS.c.published_at == mark.published_at)
                    & (BOX_DOCUMENTS.c.id < mark.id)
                )
            )
        query = query.order_by(
            BOX_DOCUMENTS.c.published_at.desc(), BOX_DOCUMENTS.c.id.desc()
        ).limit(limit)
        with self.engine.connect() as conn:
            return [document_from_row(r) for r in conn.execute(query).mappings()]
