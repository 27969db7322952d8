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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

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

__all__ = [
    "MAX_COMPANIES",
    "Memo",
    "Planned",
    "Publishing",
    "Raced",
    "checked_companies",
    "new_document_id",
    "request_digest",
    "result_from",
]

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


#: Reads shared by the items of one batch (:meth:`Publishing._plan`), by what was read.
Memo = dict[tuple[object, ...], Any]
_T = TypeVar("_T")


def _once(memo: Memo, key: tuple[object, ...], read: Callable[[], _T]) -> _T:
    """``read()`` the first time ``key`` is asked in ``memo``, its answer afterwards."""
    if key not in memo:
        memo[key] = read()
    found: _T = memo[key]
    return found


class Raced(Exception):
    """Another request with the same key committed first (rolls the attempt back)."""


def _result_text(results: Sequence[tuple[Siren, Outcome, str | None]]) -> str:
    return json.dumps([[s.value, o.value, d] for s, o, d in results], separators=(",", ":"))


def result_from(text: str) -> tuple[tuple[Siren, Outcome, str | None], ...]:
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


@dataclass(slots=True)
class Planned:
    """One publication on its way to its commit: the key, the request's digest, the draft
    and its companies; then (:meth:`Publishing._plan`) per company the outcome, and the
    documents to write with their recipients."""

    key: str
    digest: str
    draft: Draft
    targets: Sequence[Siren]
    results: list[tuple[Siren, Outcome, str | None]] = field(default_factory=list)
    docs: list[tuple[BoxDocument, Recipients]] = field(default_factory=list)


def _published_event(sender: str, doc: BoxDocument, told: Recipients) -> AuditEvent:
    return AuditEvent.make(
        doc.published_at,
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
        targets = checked_companies(companies)
        digest = request_digest(sender, draft, targets)
        return retrying(lambda: self._publish(sender, draft, targets, key, digest), what="box")

    def _publish(
        self, sender: str, draft: Draft, targets: Sequence[Siren], key: str, digest: str
    ) -> Publication:
        earlier = self._earlier(sender, key, digest)
        if earlier is not None:
            return earlier
        now = self.clock.now()
        planned = self._plan(sender, Planned(key, digest, draft, targets), now)
        try:
            self._commit(sender, [planned], now)
        except Raced:
            found = self._earlier(sender, key, digest)
            if found is None:  # pragma: no cover - the row that raced is committed
                raise IdempotencyConflict("this idempotency key is in use; try again") from None
            return found
        return Publication(tuple(planned.results))

    def _plan(self, sender: str, item: Planned, now: datetime, memo: Memo | None = None) -> Planned:
        """``item`` with its results and documents (and their recipients) decided now:
        reads only, nothing written. ``memo``: what the items of one batch share (the
        types, the subscriptions, their accounts), read once for the batch."""
        memo = {} if memo is None else memo
        draft = item.draft
        type_ = _once(memo, ("type", draft.type), lambda: self.document_type(sender, draft.type))
        when = clocks(type_, issued_at=draft.issued_at, published_at=now)
        for company in item.targets:
            held = partial(self._subscriptions_holding, company)
            holding = _once(memo, ("holding", company), held)
            if not holding:
                item.results.append((company, Outcome.UNKNOWN_COMPANY, None))
            for sub in holding:
                if not sub.digital:
                    item.results.append((company, Outcome.PAPER, None))
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
                item.docs.append((doc, self._recipients(doc, sub, now, memo)))
                item.results.append((company, Outcome.PUBLISHED, doc.id))
        return item

    def _commit(self, sender: str, items: Sequence[Planned], now: datetime) -> None:
        """One commit for every planned item: their idempotency rows (:class:`Raced` when
        another request committed one of their keys first: everything rolls back), bodies,
        catalogue rows, documents, outbox rows, feed events and audit events. The rows
        other requests may lock too are taken in one order (keys, digests, subscriptions
        sorted): two commits never wait for each other in a cycle."""
        docs = [(doc, told) for item in items for doc, told in item.docs]
        events = [_published_event(sender, doc, told) for doc, told in docs]
        bodies = {item.draft.upload.digest: item.draft.upload.body for item in items if item.docs}
        for body_digest in sorted(bodies):
            self.blobs.stage(body_digest, bodies[body_digest])

        def write(conn: Connection) -> None:
            rows = [
                {
                    "sender": sender,
                    "key": item.key,
                    "request_digest": item.digest,
                    "result": _result_text(item.results),
                    "created_at": now,
                }
                for item in sorted(items, key=lambda i: i.key)
            ]
            claimed = conn.execute(
                self.upsert(BOX_PUBLICATIONS)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["sender", "key"])
                .returning(BOX_PUBLICATIONS.c.key)
            ).all()
            if len(claimed) != len(rows):
                raise Raced
            if not docs:
                return
            for body_digest in sorted(bodies):
                self.blobs.keep(conn, body_digest, bodies[body_digest], now)
            self.catalogue.add([reference(doc) for doc, _ in docs], connection=conn)
            conn.execute(insert(BOX_DOCUMENTS), [document_row(doc) for doc, _ in docs])
            outbox = [r for doc, told in docs for r in notification_rows(_NEW, doc, told, now)]
            if outbox:
                conn.execute(insert(BOX_NOTIFICATIONS), outbox)
            by_client: dict[ClientId, list[feed.NewEvent]] = {}
            for doc, _ in docs:
                by_client.setdefault(doc.client_id, []).append(
                    (FeedKind.NEW, doc.id, doc.company, {"type": doc.type})
                )
            for client_id in sorted(by_client, key=lambda c: c.value):
                feed.append(conn, client_id, by_client[client_id], now)

        self.store.commit([], events, also=write)

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
        return Publication(result_from(str(row[1])), replayed=True)

    def _subscriptions_holding(self, company: Siren) -> list[Subscription]:
        """The subscriptions whose portfolio holds ``company`` now."""
        found: list[Subscription] = []
        for client_id in self.store.subscriptions_holding(company):
            sub = self.store.get_subscription(client_id)
            if sub is not None and company in sub.value.companies:
                found.append(sub.value)
        return found

    def _recipients(
        self, doc: BoxDocument, sub: Subscription, now: datetime, memo: Memo
    ) -> Recipients:
        client = sub.client_id
        accounts = _once(memo, ("accounts", client), lambda: self._accounts(sub, now))
        company = doc.company
        contact = _once(
            memo, ("contact", client, company), lambda: self.company_contact(client, company)
        )
        return recipients(
            reference(doc),
            sub,
            accounts,
            has_company_address=contact is not None,
            now=now,
            machines=_once(memo, ("machines", client), lambda: self.machines(client)),
        )

    def _accounts(self, sub: Subscription, now: datetime) -> list[Account]:
        """The subscription's accounts and its accepted third parties' accounts."""
        accounts: list[Account] = list(self.store.accounts_of(sub.client_id))
        for invitee in invitees(sub, now):
            found = self.store.get_account(invitee)
            if found is not None:
                accounts.append(found.value)
        return accounts


def checked_companies(companies: Sequence[Siren]) -> list[Siren]:
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
