"""Sharing a document: a copy of its body sent by e-mail to an address a user gives
(ADR 0068; the banks' guides: "consult, download or share" the documents of the box).

A share is a row of the notification outbox (``box_notifications``) of kind :data:`SHARE`,
written in the same commit as its audit event ``box.document.share`` (the recipient named by
a keyed digest of the address, never the address) and sent by the jobs worker like any
notification: leased, retried with backoff, at least once under one ``Message-ID``
(:mod:`securebox_server.jobs.sender`). At sending time the document must still be readable
and its sharer still entitled to share it; otherwise nothing is sent and the row is
``dropped``. The note is cleared once the row is final; the address stays for the sharer's
history (the share page) until the document is deleted, which erases it.

What a request may ask (:func:`share_request`) is checked before anything is written: one
plain e-mail address (no display name, no list, ASCII), a note of at most
:data:`MAX_NOTE` characters without control characters but line breaks, and a body of at
most :data:`MAX_SHARED_BYTES` (mail relays refuse larger messages; such a document is
downloaded instead).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select

from securebox_auth.audit import SUBSCRIPTION_DETAIL, AuditEvent
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal
from securebox_server.box.base import StoreBase, document_subject
from securebox_server.box.model import (
    BoxDocument,
    DocumentNotFound,
    IdempotencyConflict,
    Status,
)
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.i18n import DEFAULT, LANGUAGES, N_
from securebox_server.web.explained import Explained

__all__ = [
    "MAX_NOTE",
    "MAX_SHARED_BYTES",
    "SHARE",
    "ShareRecord",
    "ShareRefused",
    "ShareRequest",
    "Shares",
    "share_request",
]

#: The outbox kind of a share.
SHARE: Final = "share"
#: The longest note, in characters.
MAX_NOTE: Final = 500
#: The largest body sent by e-mail (10 MiB: most relays accept messages of 10-25 MB, and
#: base64 makes an attachment a third larger).
MAX_SHARED_BYTES: Final = 10 * 1024 * 1024
#: How many of a user's shares of one document their page lists (the newest).
HISTORY: Final = 20

_N: Final = BOX_NOTIFICATIONS
# A plain address: an ASCII local part of the usual characters, a domain of LDH labels.
_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


class ShareRefused(MalformedInput, Explained):
    """A share the server does not accept; ``str()`` is the English sentence (a msgid the
    page translates), never the input."""


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """A share as checked by :func:`share_request`."""

    address: str = field(repr=False)
    note: str = field(repr=False)
    language: str = DEFAULT


def share_request(address: object, note: object = "", language: object = DEFAULT) -> ShareRequest:
    """The request, else :class:`ShareRefused` (what is wrong, in a sentence for the user)."""
    if not isinstance(address, str) or not isinstance(note, str):
        raise ShareRefused(N_("Enter one e-mail address, and a note if you wish."))
    address = address.strip()
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise ShareRefused(N_("Enter one e-mail address, such as name@example.com."))
    note = note.replace("\r\n", "\n").strip()
    if len(note) > MAX_NOTE:
        raise ShareRefused(N_("The note is at most 500 characters long."))
    if _CONTROL.search(note):
        raise ShareRefused(N_("The note is plain text on one or more lines."))
    chosen = language if isinstance(language, str) and language in LANGUAGES else DEFAULT
    return ShareRequest(address, note, chosen)


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """One share of a document by its sharer, as their history lists it."""

    id: str
    address: str
    created_at: datetime
    #: the outbox status: ``pending``, ``sent``, ``dead``, ``dropped`` or ``bounced``
    status: str
    sent_at: datetime | None
    #: an earlier share with the same idempotency key, answered again
    replayed: bool = False


class _Replayed(Exception):
    """Raised inside the commit to roll it back and answer the earlier share instead."""

    def __init__(self, record: ShareRecord) -> None:
        super().__init__("replayed")
        self.record = record


def _keyed_id(sharer: Principal, key: str) -> str:
    """The id of the share ``sharer`` asks under the idempotency key ``key``."""
    material = b"\x00".join([b"securebox/share/v1", sharer.key.encode(), key.encode()])
    return hashlib.sha256(material).hexdigest()[:32]


def _record(row: Any) -> ShareRecord:
    id_, address, created, status, sent = row
    return ShareRecord(str(id_), str(address or ""), created, str(status), sent)


class Shares(StoreBase):
    """The box's shares (a part of :class:`~securebox_server.box.documents.DocumentStore`)."""

    def enqueue_share(
        self,
        doc: BoxDocument,
        sharer: Principal,
        request: ShareRequest,
        *,
        recipient: str,
        key: str | None = None,
    ) -> ShareRecord:
        """Write the share of ``doc`` by ``sharer`` (entitled: the caller checked) and its
        audit event in one commit; ``recipient`` names the address in the audit trail (a
        keyed digest). Raises :class:`ShareRefused` for a body over the bound.

        ``key`` (an API client's ``Idempotency-Key``): the same key from the same sharer
        for the same document and address answers the first share again
        (``replayed``), nothing written; for anything else it raises
        :class:`~.model.IdempotencyConflict`. Decided under the subscription's audit head
        lock, so two racing requests with one key make one share."""
        if doc.status is not Status.LIVE:
            raise DocumentNotFound("no such document")
        if doc.size > MAX_SHARED_BYTES:
            raise ShareRefused(
                N_(
                    "This document is larger than 10 MB and cannot be sent by e-mail: "
                    "download it instead."
                )
            )
        now = self.clock.now()
        share_id = secrets.token_hex(16) if key is None else _keyed_id(sharer, key)
        event = AuditEvent.make(
            now,
            "box.document.share",
            actor=sharer.key,
            subject=document_subject(doc.id),
            outcome="success",
            details={
                SUBSCRIPTION_DETAIL: doc.client_id.value,
                "digest": doc.digest,
                "recipient": recipient,
                "share": share_id,
            },
        )
        row = {
            "id": share_id,
            "kind": SHARE,
            "document_id": doc.id,
            "client_id": sharer.client_id.value,
            "company": doc.company.value,
            "user_number": sharer.user_number.value,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "address": request.address,
            "note": request.note or None,
            "language": request.language,
        }

        def write(conn: Connection) -> None:
            if key is not None:
                self._replay(conn, share_id, doc, request)
            conn.execute(insert(_N), [row])

        try:
            self.store.commit([], [event], also=write)
        except _Replayed as replayed:
            return replayed.record
        return ShareRecord(share_id, request.address, now, "pending", None)

    @staticmethod
    def _replay(conn: Connection, share_id: str, doc: BoxDocument, request: ShareRequest) -> None:
        """Nothing when no share has ``share_id``; else :class:`_Replayed` (the same
        document and address) or :class:`~.model.IdempotencyConflict`."""
        query = select(
            _N.c.kind, _N.c.document_id, _N.c.address, _N.c.created_at, _N.c.status, _N.c.sent_at
        ).where(_N.c.id == share_id)
        found = conn.execute(query).first()
        if found is None:
            return
        kind, document_id, address, created, status, sent = found
        if kind != SHARE or document_id != doc.id or address != request.address:
            raise IdempotencyConflict("this Idempotency-Key was used for another share")
        record = ShareRecord(share_id, request.address, created, str(status), sent, replayed=True)
        raise _Replayed(record)

    def shares_by(self, sharer: Principal, document_id: str) -> list[ShareRecord]:
        """``sharer``'s shares of the document, newest first (:data:`HISTORY` at most)."""
        query = (
            select(_N.c.id, _N.c.address, _N.c.created_at, _N.c.status, _N.c.sent_at)
            .where(
                _N.c.document_id == document_id,
                _N.c.kind == SHARE,
                _N.c.client_id == sharer.client_id.value,
                _N.c.user_number == sharer.user_number.value,
            )
            .order_by(_N.c.created_at.desc(), _N.c.id)
            .limit(HISTORY)
        )
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]
