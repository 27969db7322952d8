"""The people, companies, document types and API clients of the box's end-to-end tests, put
into a library and a :class:`~securebox_server.box.documents.DocumentStore` the way the back
office would (the library's own services and decisions), and the HTTP steps every test takes
(a sender's token by a signed client assertion, a publication, a user's login, the feed).

Subscription :data:`CLIENT` holds companies C1 and C2 and themes payroll, tax and statements:

* 01, its principal user (every document), 02 an administrator (every right);
* 03, a collaborator: every company, the **payroll** theme only;
* third parties of :data:`OTHER`: 01 (the accountant) with an accepted invitation on C1,
  02 with a **pending** one (:func:`accept` accepts it, as the invitee would);
* every one of them with a verified e-mail address (:data:`MAIL`), and company C1 with its
  notification address :data:`COMPANY_MAIL`.

The sender :data:`SENDER` publishes ``statement`` (statements theme: not the
collaborator's; valid 30 days, warned 5 days before, no retention: deleted when validity
ends) and ``payslip`` (payroll). A receiver (the accounting software) of :data:`CLIENT` on
C1 follows the feed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

import httpx

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock
from securebox_auth.entitlements.accounts import Account, Operator, Role
from securebox_auth.entitlements.invitations import accept_invitation
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
)
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal, Siren, UserNumber
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import DocumentType
from securebox_server.box.samples import sample_pdf
from securebox_server.clients.service import TOKEN_PATH, ApiClients
from tests.server.box.conftest import (
    ACCOUNTANT,
    ADMIN,
    C1,
    C2,
    CLIENT,
    COLLABORATOR,
    OTHER,
    PAYROLL,
    PENDING,
    PRINCIPAL,
    STATEMENTS,
    TAX,
)
from tests.server.clients.helpers import Registered, assertion, bearer, new_key
from tests.server.jobs.conftest import verify

__all__ = [
    "BATCHES",
    "CODE",
    "COMPANY_MAIL",
    "MAIL",
    "PAYSLIP",
    "SENDER",
    "STATEMENT",
    "Actors",
    "Movable",
    "accept",
    "add_readers",
    "feed",
    "login",
    "publish",
    "publish_batch",
    "seed",
    "sender_token",
]

CODE: Final = "47120938"
SENDER: Final = "bank-back-office"
STATEMENT: Final = DocumentType(SENDER, "statement", "Statement", STATEMENTS, 30, 5, "none", 0)
PAYSLIP: Final = DocumentType(SENDER, "payslip", "Payslip", PAYROLL, 180, 15, "payroll", 0)
MAIL: Final = {
    PRINCIPAL: "pu@acme.example",
    ADMIN: "admin@acme.example",
    COLLABORATOR: "collab@acme.example",
    ACCOUNTANT: "accountant@cabinet.example",
    PENDING: "pending@cabinet.example",
}
COMPANY_MAIL: Final = "compta@acme.example"
_PENDING_INVITATION: Final = "inv-pending"


class Movable(Clock, Protocol):
    """A clock the test moves (``FixedClock`` in process, ``ShiftedClock`` across them)."""

    def advance(self, delta: timedelta) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Actors:
    """The API clients: the sender and the receiver, with their private keys."""

    sender: Registered
    receiver: Registered


def _subscription(created: datetime) -> Subscription:
    invitations = {
        inv_id: Invitation(
            id=inv_id,
            invitee=invitee,
            companies=frozenset({C1}),
            documents=DocumentScope.all(),
            operations=THIRD_PARTY_OPERATIONS,
            invited_by=PRINCIPAL,
            created_at=created,
            expires_at=created + timedelta(days=3650),
            status=status,
            decided_at=created if status is InvitationStatus.ACCEPTED else None,
        )
        for inv_id, invitee, status in (
            ("inv-accepted", ACCOUNTANT, InvitationStatus.ACCEPTED),
            (_PENDING_INVITATION, PENDING, InvitationStatus.PENDING),
        )
    }
    return Subscription(
        CLIENT,
        companies={C1: Company(C1, "ACME", created), C2: Company(C2, "ACME Services", created)},
        themes=frozenset({PAYROLL, TAX, STATEMENTS}),
        rights={
            ADMIN: Rights.everything(),
            COLLABORATOR: Rights(
                CompanyScope.portfolio(),
                DocumentScope(themes=frozenset({PAYROLL})),
                frozenset({Operation.VIEW, Operation.DOWNLOAD}),
            ),
        },
        invitations=invitations,
    )


def seed(
    box: Securebox,
    clock: Movable,
    documents: DocumentStore,
    clients: ApiClients,
    scratch: Path,
) -> Actors:
    """The world of the module documentation; the API clients registered."""
    back_office = Operator("back-office")
    letter = box.codes.create_subscription(back_office, PRINCIPAL)
    assert box.codes.change_code(CLIENT.value, "01", letter.reveal(), CODE).changed
    created = clock.now()
    found = box.store.get_subscription(CLIENT)
    assert found is not None
    others = [
        Account(ADMIN, Role.ADMINISTRATOR, created),
        Account(COLLABORATOR, Role.USER, created),
        Account(ACCOUNTANT, Role.PRINCIPAL_USER, created),
        Account(PENDING, Role.USER, created),
    ]
    box.store.commit(
        [
            PutSubscription(CLIENT, found.version, _subscription(created)),
            PutSubscription(OTHER, 0, Subscription(OTHER, themes=frozenset({TAX}))),
            *(PutAccount(a.principal, 0, a) for a in others),
        ],
        [AuditEvent.make(created, "test.seed", actor="test", subject=CLIENT.value, outcome="ok")],
    )
    outbox = FileOutbox(scratch / "verification-codes.jsonl")
    for who, address in MAIL.items():
        verify(box, clock, outbox, who, Channel.EMAIL, address)  # type: ignore[arg-type]
    documents.set_company_contact(CLIENT, C1, COMPANY_MAIL, actor=PRINCIPAL.key)
    documents.define_type(STATEMENT)
    documents.define_type(PAYSLIP)
    key, jwks = new_key("ES256")
    sender = Registered(
        clients.add_sender(SENDER, "Back office", jwks=jwks), key, "ES256", jwks["keys"][0]["kid"]
    )
    key, jwks = new_key("ES256")
    made = clients.add_receiver(back_office, CLIENT, [C1], "Accounting software", jwks=jwks)
    return Actors(sender, Registered(made, key, "ES256", jwks["keys"][0]["kid"]))


def add_readers(box: Securebox, clock: Movable, count: int, scratch: Path) -> list[str]:
    """``count`` more users of :data:`CLIENT` who see every document (numbers 10 and up),
    each with a verified address; their addresses."""
    now = clock.now()
    readers = [Principal(CLIENT, UserNumber(f"{10 + n:02d}")) for n in range(count)]
    found = box.store.get_subscription(CLIENT)
    assert found is not None
    rights = Rights(CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.VIEW}))
    sub = replace(found.value, rights={**found.value.rights, **dict.fromkeys(readers, rights)})
    box.store.commit(
        [
            PutSubscription(CLIENT, found.version, sub),
            *(PutAccount(r, 0, Account(r, Role.USER, now)) for r in readers),
        ],
        [AuditEvent.make(now, "test.readers", actor="test", subject=CLIENT.value, outcome="ok")],
    )
    outbox = FileOutbox(scratch / "reader-codes.jsonl")
    addresses = [f"reader{r.user_number.value}@acme.example" for r in readers]
    for reader, address in zip(readers, addresses, strict=True):
        verify(box, clock, outbox, reader, Channel.EMAIL, address)  # type: ignore[arg-type]
    return addresses


def accept(box: Securebox, clock: Clock) -> None:
    """The pending third party accepts its invitation (the library's decision)."""
    found = box.store.get_subscription(CLIENT)
    invitee = box.store.get_account(PENDING)
    assert found is not None
    assert invitee is not None
    change = accept_invitation(invitee.value, found.value, _PENDING_INVITATION, now=clock.now())
    box.store.commit([PutSubscription(CLIENT, found.version, change.subscription)], change.events)


# -- HTTP -------------------------------------------------------------------------------------


def sender_token(http: httpx.Client, who: Registered, clock: Clock, origin: str) -> str:
    """An access token for ``who``: a fresh ``private_key_jwt`` assertion (RFC 7523)."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(who, audience=origin + TOKEN_PATH, now=clock.now()),
    }
    answer = http.post(TOKEN_PATH, data=form)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def pdf(n: int) -> bytes:
    return sample_pdf(title=f"Statement {n}", lines=[f"Account statement number {n}"], seed=n)


def publish(
    http: httpx.Client,
    token: str,
    body: bytes,
    *,
    key: str,
    type_: str = STATEMENT.type,
    label: str = "Statement",
    companies: Sequence[Siren] = (C1,),
    issued_at: datetime,
    timeout: float | None = None,
) -> httpx.Response:
    """``POST /api/v1/sender/documents`` (multipart: metadata + PDF, an idempotency key)."""
    metadata = {
        "type": type_,
        "label": label,
        "issued_at": issued_at.isoformat(),
        "companies": [c.value for c in companies],
    }
    files: dict[str, tuple[str | None, bytes | str, str]] = {
        "metadata": (None, json.dumps(metadata), "application/json"),
        "file": ("statement.pdf", body, "application/pdf"),
    }
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    return http.post(
        "/api/v1/sender/documents",
        files=files,
        headers={**bearer(token), "Idempotency-Key": key},
        **extra,
    )


BATCHES: Final = "/api/v1/sender/batches"


def publish_batch(
    http: httpx.Client,
    token: str,
    items: Sequence[tuple[str, bytes, Siren]],
    *,
    issued_at: datetime,
    type_: str = STATEMENT.type,
    label: str = "Statement",
    timeout: float | None = None,
) -> httpx.Response:
    """``POST /api/v1/sender/batches`` (ADR 0060): one item per (idempotency key, PDF,
    company), the PDF in the part ``f<n>`` named ``<key>.pdf``."""
    metadata = {
        "items": [
            {
                "idempotency_key": key,
                "file": f"f{n}",
                "type": type_,
                "label": label,
                "issued_at": issued_at.isoformat(),
                "companies": [company.value],
            }
            for n, (key, _, company) in enumerate(items)
        ]
    }
    files: list[tuple[str, tuple[str | None, bytes | str, str]]] = [
        ("metadata", (None, json.dumps(metadata), "application/json"))
    ]
    files += [
        (f"f{n}", (f"{key}.pdf", body, "application/pdf")) for n, (key, body, _) in enumerate(items)
    ]
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    return http.post(BATCHES, files=files, headers=bearer(token), **extra)


def login(http: httpx.Client, box: Securebox, clock: Clock, who: Principal = PRINCIPAL) -> str:
    """A session token through ``/api/v1/login/flows`` (the code; a strong login is
    recorded as recent first, as after a second factor)."""
    box.store.commit([box.factors.renewal_change(who, "web", clock.now())], [])
    started = http.post(
        "/api/v1/login/flows",
        json={"client_id": who.client_id.value, "user_number": who.user_number.value},
    )
    assert started.status_code == 201, started.text
    flow = started.json()
    done = http.post(
        f"/api/v1/login/flows/{flow['id']}/answers",
        json={"method": "confidential_code", "code": CODE},
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done", done.text
    token: str = done.json()["session"]["token"]
    return token


def checked_download(http: httpx.Client, session: str, document_id: str) -> bytes:
    """The body through the user's API, its digest checked against the metadata and the
    ``Repr-Digest`` header (RFC 9530)."""
    meta = http.get(f"/api/v1/documents/{document_id}", headers=bearer(session))
    assert meta.status_code == 200, meta.text
    got = http.get(f"/api/v1/documents/{document_id}/content", headers=bearer(session))
    assert got.status_code == 200, got.text
    digest = hashlib.sha256(got.content).hexdigest()
    assert digest == meta.json()["digest"]
    encoded = base64.b64encode(bytes.fromhex(digest)).decode()
    assert got.headers["Repr-Digest"] == f"sha-256=:{encoded}:"
    return got.content


def feed(http: httpx.Client, token: str, after: int) -> tuple[list[dict[str, Any]], int]:
    """Every event of the receiver's feed after ``after`` (pages followed), and the next
    ``after``."""
    events: list[dict[str, Any]] = []
    while True:
        page = http.get(
            "/api/v1/receiver/events", params={"after": after, "limit": 3}, headers=bearer(token)
        )
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["events"]
        assert body["next"] >= after
        after = body["next"]
        if not body["more"]:
            return events, after
