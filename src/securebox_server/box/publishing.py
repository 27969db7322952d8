"""Senders' document types and publication (ADR 0030).

A publication is one commit: the idempotency row, the body, per company the catalogue row,
the ``box_documents`` row, the outbox rows (one per user entitled now, and the company's
notification address) and the feed event, and the audit events. The idempotency row is
inserted first: of two identical requests racing (threads or processes), the second waits
for the first's commit on that row, finds it, and answers the same documents.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from securebox_auth.audit import SUBSCRIPTION_DETAIL, AuditEvent
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren
from securebox_auth.shell.retry import retrying
from securebox_server.box import feed
from securebox_server.box.base import document_actor, document_subject
from securebox_server.box.document_types import DocumentTypes
from securebox_server.box.model import (
    BoxDocument,
    Draft,
    FeedKind,
    IdempotencyConflict,
    Outcome,
    Publication,
    Status,
    sender_name,
)
from securebox_server.box.model import (
    idempotency_key as _checked_key,
)
from securebox_server.box.recipients import Recipients, invitees, recipients
from securebox_server.box.retention import clocks
from securebox_server.box.rows import document_row, reference
from securebox_server.db.schema import (
    BOX_DOCUMENTS,
    BOX_NOTIFICATIONS,
    BOX_PUBLICATIONS,
)

__all__ = ["MAX_COMPANIES", "Publishing", "new_document_id", "request_digest"]

_NEW = "new_document"
#: Companies one publication may name.
MAX_COMPANIES = 1000


def new_document_id() -> str:
    """128 random bits, URL-safe, a valid catalogue id (starts with a letter)."""
    return "d" + secrets.token_urlsafe(16)


def request_digest(sender: str, draft: Draft, companies: Sequence[Siren]) -> str:
    """What an idempotency key stands for: the sender, the draft and its body, the
    companies (in order)."""
    canonical = {
        "sender": sender,
        "type": draft.type,
        "label": draft.label,
        "issued_at": draft.issued_at.isoformat(timespec="microseconds"),
        "digest": draft.upload.digest,
        "size": draft.upload.size,
        "media_type": draft.upload.media_type,
        "filename": draft.upload.filename,
        "companies": [c.value for c in companies],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


class _Raced(Exception):
    """Another request with the same key committed first (rolls the attempt back)."""


def _result_text(results: Sequence[tuple[Siren, Outcome, str | None]]) -> str:
    return json.dumps([[s.value, o.value, d] for s, o, d in results], separators=(",", ":"))


def _result_from(text: str) -> tuple[tuple[Siren, Outcome, str | None], ...]:
    return tuple((Siren(s), Outcome(o), d) for s, o, d in json.loads(text))


def _notification(
    kind: str, doc: BoxDocument, client_id: str, user: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(16),
        "kind": kind,
        "document_id": doc.id,
        "client_id": client_id,
        "company": doc.company.value,
        "user_number": user,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def notification_rows(
    kind: str, doc: BoxDocument, told: Recipients, now: datetime
) -> list[dict[str, Any]]:
    """The outbox rows of ``told``: one per user, keyed by the user's own principal (a
    third party's ``client_id`` is their own subscription's), and one for the company's
    notification address (the document's ``client_id``, no user)."""
    rows = [
        _notification(kind, doc, p.client_id.value, p.user_number.value, now) for p in told.users
    ]
    if told.company_address:
        rows.append(_notification(kind, doc, doc.client_id.value, None, now))
    return rows


class Publishing(DocumentTypes):
    # -- publication ----------------------------------------------------------------------

    def publish(
        self, sender: str, draft: Draft, companies: Sequence[Siren], *, idempotency_key: str
    ) -> Publication:
        """Publish ``draft`` to each company (to each subscription holding it); returns
        once durable. The same key and request: the same :class:`Publication`
        (``replayed``); the same key and another request: :class:`IdempotencyConflict`.
        A company in no subscription, or whose subscription is on paper, is refused."""
        sender_name(sender)
        key = _checked_key(idempotency_key)
        if not isinstance(draft, Draft):
            raise MalformedInput("a publication carries a draft")
        targets = _companies(companies)
        digest = request_digest(sender, draft, targets)
        return retrying(lambda: self._publish(sender, draft, targets, key, digest), what="box")

    def _publish(
        self, sender: str, draft: Draft, targets: Sequence[Siren], key: str, digest: str
    ) -> Publication:
        earlier = self._earlier(sender, key, digest)
        if earlier is not None:
            return earlier
        type_ = self.document_type(sender, draft.type)
        now = self.clock.now()
        when = clocks(type_, issued_at=draft.issued_at, published_at=now)
        results: list[tuple[Siren, Outcome, str | None]] = []
        docs: list[tuple[BoxDocument, Recipients]] = []
        for company in targets:
            holding = self._subscriptions_holding(company)
            if not holding:
                results.append((company, Outcome.UNKNOWN_COMPANY, None))
            for sub in holding:
                if not sub.digital:
                    results.append((company, Outcome.PAPER, None))
                    continue
                doc = BoxDocument(
                    id=new_document_id(),
                    client_id=sub.client_id,
                    company=company,
                    sender=sender,
                    type=type_.type,
                    theme=type_.theme,
                    label=draft.label.strip(),
                    issued_at=draft.issued_at,
                    published_at=now,
                    valid_until=when.valid_until,
                    warn_at=when.warn_at,
                    warned_at=None,
                    retention_class=type_.retention_class,
                    retain_until=when.retain_until,
                    legal_hold=False,
                    digest=draft.upload.digest,
                    size=draft.upload.size,
                    media_type=draft.upload.media_type,
                    filename=draft.upload.filename,
                    status=Status.LIVE,
                )
                docs.append((doc, self._recipients(doc, sub, now)))
                results.append((company, Outcome.PUBLISHED, doc.id))
        events = [
            AuditEvent.make(
                now,
                "box.document.published",
                actor=document_actor(sender),
                subject=document_subject(doc.id),
                outcome="success",
                details={
                    SUBSCRIPTION_DETAIL: doc.client_id.value,
                    "company": doc.company.value,
                    "type": doc.type,
                    "digest": doc.digest,
                    "notified": str(len(told.users) + told.company_address),
                },
            )
            for doc, told in docs
        ]
        if docs:
            self.blobs.stage(draft.upload.digest, draft.upload.body)

        def write(conn: Connection) -> None:
            claimed = conn.execute(
                self.upsert(BOX_PUBLICATIONS)
                .values(
                    sender=sender,
                    key=key,
                    request_digest=digest,
                    result=_result_text(results),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["sender", "key"])
            )
            if claimed.rowcount != 1:
                raise _Raced
            if not docs:
                return
            self.blobs.keep(conn, draft.upload.digest, draft.upload.body, now)
            self.catalogue.add([reference(doc) for doc, _ in docs], connection=conn)
            conn.execute(insert(BOX_DOCUMENTS), [document_row(doc) for doc, _ in docs])
            outbox = [
                r for doc, told in docs for r in notification_rows("new_document", doc, told, now)
            ]
            if outbox:
                conn.execute(insert(BOX_NOTIFICATIONS), outbox)
            by_client: dict[ClientId, list[feed.NewEvent]] = {}
            for doc, _ in docs:
                by_client.setdefault(doc.client_id, []).append(
                    (FeedKind.NEW, doc.id, doc.company, {"type": doc.type})
                )
            for client_id in sorted(by_client, key=lambda c: c.value):
                feed.append(conn, client_id, by_client[client_id], now)

        try:
            self.store.commit([], events, also=write)
        except _Raced:
            found = self._earlier(sender, key, digest)
            if found is None:  # pragma: no cover - the row that raced is committed
                raise IdempotencyConflict("this idempotency key is in use; try again") from None
            return found
        return Publication(tuple(results))

    def _earlier(self, sender: str, key: str, digest: str) -> Publication | None:
        """The answer already given for this key, or :class:`IdempotencyConflict`."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(BOX_PUBLICATIONS.c.request_digest, BOX_PUBLICATIONS.c.result).where(
                    BOX_PUBLICATIONS.c.sender == sender, BOX_PUBLICATIONS.c.key == key
                )
            ).first()
        if row is None:
            return None
        if not secrets.compare_digest(str(row[0]), digest):
            raise IdempotencyConflict("this idempotency key was used for another request")
        return Publication(_result_from(str(row[1])), replayed=True)

    def _subscriptions_holding(self, company: Siren) -> list[Subscription]:
        """The subscriptions whose portfolio holds ``company`` now."""
        found: list[Subscription] = []
        for client_id in self.store.subscriptions_holding(company):
            sub = self.store.get_subscription(client_id)
            if sub is not None and company in sub.value.companies:
                found.append(sub.value)
        return found

    def _recipients(self, doc: BoxDocument, sub: Subscription, now: datetime) -> Recipients:
        accounts: list[Account] = list(self.store.accounts_of(sub.client_id))
        for invitee in invitees(sub, now):
            found = self.store.get_account(invitee)
            if found is not None:
                accounts.append(found.value)
        return recipients(
            reference(doc),
            sub,
            accounts,
            has_company_address=self.company_contact(doc.client_id, doc.company) is not None,
            now=now,
            machines=self.machines(doc.client_id),
        )


def _companies(companies: Sequence[Siren]) -> list[Siren]:
    given: object = companies  # checked at run time: callers may not be typed
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise MalformedInput("companies: a list of SIRENs")
    if not 1 <= len(companies) <= MAX_COMPANIES:
        raise MalformedInput(f"a publication names 1 to {MAX_COMPANIES} companies")
    if not all(isinstance(c, Siren) for c in companies):
        raise MalformedInput("companies: a list of SIRENs")
    unique = list(dict.fromkeys(companies))
    if len(unique) != len(companies):
        raise MalformedInput("a company is named once")
    return unique
