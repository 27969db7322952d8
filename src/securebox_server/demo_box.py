"""The demo's digital box: the demo subscription's companies, themes and users' rights, an
accountant invited as a third party, and the documents of :mod:`~securebox_server.
demo_box_plan` published through :meth:`DocumentStore.publish
<securebox_server.box.documents.DocumentStore.publish>` (never written as rows), with their
reads and each user's previous visit.

The documents are published on a clock set to each one's publication time over the last
eighteen months (the store reads its clock: dates, validity, notifications and audit events
are those of a box that was used all along), then the reads: user 01 has read most of what
is older than three weeks, so the home page has unread and new documents."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from joserfc.jwk import ECKey

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock, SystemClock
from securebox_auth.crypto.hashing import PROFILE_2026, PROFILE_TESTING
from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.identity import ClientId, Principal, UserNumber
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.box.model import Draft, ReadKind
from securebox_server.box.rows import reference
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import check_upload
from securebox_server.clients.wiring import build_clients
from securebox_server.demo_box_plan import (
    BAKERY,
    COMPANIES,
    DGFIP,
    PLANNED_TYPES,
    SENDER_NAMES,
    TRANSPORT,
    URSSAF,
    Planned,
    plan,
)
from securebox_server.settings import Settings
from securebox_server.wiring import build_documents, load_master_key

__all__ = ["ACCOUNTANT", "ACCOUNTANT_CODE", "seed_box"]

#: The accountant's own subscription (a firm of chartered accountants), user 01.
ACCOUNTANT: Final = Principal.parse("987654321", "01")
ACCOUNTANT_CODE: Final = "36925814"
ACCOUNTANT_FIRM: Final = "Cabinet Durand Expertise Comptable"
THEMES: Final = frozenset(t.theme for t in PLANNED_TYPES)
_READ: Final = frozenset({Operation.VIEW})
_READ_DOWNLOAD: Final = frozenset({Operation.VIEW, Operation.DOWNLOAD})
#: Each demo user's rights in the box (01, the principal user, holds every right).
RIGHTS: Final = {
    "02": Rights(CompanyScope.portfolio(), DocumentScope.all(), _READ_DOWNLOAD),
    "03": Rights(
        CompanyScope.of(BAKERY), DocumentScope(themes=frozenset({Theme("payroll")})), _READ_DOWNLOAD
    ),
    "04": Rights(
        CompanyScope.of(BAKERY, TRANSPORT),
        DocumentScope(themes=frozenset({Theme("statements"), Theme("notices")})),
        _READ,
    ),
    "05": Rights(CompanyScope.portfolio(), DocumentScope.all(), _READ_DOWNLOAD),
}
#: The accountant sees the tax, payroll and statements of two companies.
INVITED: Final = (frozenset({BAKERY, TRANSPORT}), frozenset({"tax", "payroll", "statements"}))
BANK_OFFICE: Final = Operator("demo-back-office")
INVITATION: Final = "demo-accountant"
#: The bakery's notification address (seed 003's company e-mail): it is told of every new
#: document of the company.
BAKERY_CONTACT: Final = "comptabilite@boulangerie-martin.example"


@dataclass(frozen=True, slots=True)
class _Step:
    """One thing done on the box at ``at``: publish ``planned[index]``, or a read of it by
    ``reader`` (``how``), or a visit of ``reader`` (``index`` -1)."""

    at: datetime
    index: int
    reader: Principal | None = None
    how: ReadKind | None = None


def _portfolio(box: Securebox, client: ClientId) -> None:
    """Companies, themes and rights, and the accountant's accepted invitation: the
    library's pure administrative transitions, acted by the principal user and the
    accountant, committed with their audit events in one commit."""
    store = box.store
    now = box.clock.now()
    held = store.get_subscription(client)
    boss = store.get_account(Principal(client, UserNumber("01")))
    accountant = store.get_account(ACCOUNTANT)
    assert held is not None
    assert boss is not None
    assert accountant is not None
    sub, events = held.value, list[AuditEvent]()

    def apply(change: admin.AdminChange) -> None:
        nonlocal sub
        sub = change.subscription
        events.extend(change.events)

    for theme in sorted(THEMES):
        apply(admin.add_theme(boss.value, sub, theme, now=now))
    for siren, name in COMPANIES:
        apply(admin.add_company(boss.value, sub, siren, name, proof_valid=True, now=now))
    for number, rights in RIGHTS.items():
        user = store.get_account(Principal(client, UserNumber(number)))
        if user is not None:  # 05 exists when the demo has an outbox
            apply(admin.set_rights(boss.value, sub, user.value, rights, now=now))
    companies, themes = INVITED
    invited = DocumentScope(themes=frozenset(Theme(t) for t in themes))
    apply(
        admin.invite_third_party(
            boss.value,
            sub,
            ACCOUNTANT,
            companies,
            invitation_id=INVITATION,
            documents=invited,
            now=now,
        )
    )
    apply(admin.accept_invitation(accountant.value, sub, INVITATION, now=now))
    store.commit([PutSubscription(client, held.version, sub)], events)


def _accountant(box: Securebox, now: Securebox) -> None:
    """The accountant's own subscription, opened by the bank (on ``box``'s clock) with a
    one-time code that the accountant changed, and a recent strong login (``now``'s clock),
    so no second factor is asked at the demo's login."""
    one_time = box.codes.create_subscription(BANK_OFFICE, ACCOUNTANT)
    box.codes.change_code(
        ACCOUNTANT.client_id.value,
        ACCOUNTANT.user_number.value,
        one_time.reveal(),
        ACCOUNTANT_CODE,
    )
    now.store.commit([now.factors.renewal_change(ACCOUNTANT, "web", now.clock.now())], [])


def _steps(planned: Sequence[Planned], client: ClientId, now: datetime) -> list[_Step]:
    """The publications, then reads (by 01: most documents older than three weeks, fewer
    of the newer ones, none of the last ten days; by 03 and the accountant: what they
    follow) and the users' previous visits, in time order."""
    rng = random.Random(2026)  # noqa: S311 - demo content, not a secret
    boss, clerk = Principal(client, UserNumber("01")), Principal(client, UserNumber("03"))
    steps = [_Step(p.published_at, n) for n, p in enumerate(planned)]
    for n, p in enumerate(planned):
        age = now - p.published_at
        chance = 0.9 if age > timedelta(days=21) else 0.4 if age > timedelta(days=10) else 0.0
        later = p.published_at + timedelta(hours=rng.randrange(2, 96))
        if rng.random() < chance and later < now:
            how = ReadKind.DOWNLOAD if rng.random() < 0.3 else ReadKind.VIEW
            steps.append(_Step(later, n, boss, how))
        if BAKERY in p.companies and age > timedelta(days=10):
            # the payroll clerk reads the bakery's payroll, the accountant its tax papers
            if p.type in ("dsn", "echeancier"):
                steps.append(_Step(p.published_at + timedelta(days=1), n, clerk, ReadKind.VIEW))
            if p.sender == DGFIP:
                at = p.published_at + timedelta(days=2)
                steps.append(_Step(at, n, ACCOUNTANT, ReadKind.DOWNLOAD))
    for user, days in ((boss, 9), (Principal(client, UserNumber("02")), 30)):
        steps.append(_Step(now - timedelta(days=days, hours=3), -1, user))
    return sorted((s for s in steps if s.at < now), key=lambda s: (s.at, s.index))


def _body(n: int, p: Planned) -> Draft:
    companies = ", ".join(name for siren, name in COMPANIES if siren in p.companies)
    lines = (
        f"Destinataire : {companies}",
        "Madame, Monsieur,",
        f"Veuillez trouver ci-dessous : {p.label}.",
        *p.lines,
        "Ce document est mis à disposition dans votre espace sécurisé.",
    )
    body = sample_pdf(title=p.label, lines=lines, seed=n)
    filename = f"{p.type}-{p.issued_at:%Y-%m-%d}-{n:04d}.pdf"
    return Draft(p.type, p.label, p.issued_at, check_upload(body, filename))


def _senders(settings: Settings, box: Securebox) -> None:
    """Register the senders as API clients (a fresh public key each: the demo publishes
    through the store, not the API), so the box shows their display names."""
    clients = build_clients(settings, box)
    assert clients is not None  # the demo runs on SQLite
    for sender, name in SENDER_NAMES:
        key = ECKey.generate_key("P-256")
        public = {**key.as_dict(private=False), "kid": f"demo-{sender.lower()}"}
        clients.add_sender(sender, name, jwks={"keys": [public]})


def seed_box(settings: Settings, box: Securebox, *, fast: bool) -> list[str]:
    """The demo subscription's box (``box``: the demo's entry point on the settings'
    database, the users 01 to 05 made); the lines telling what it holds and how the
    accountant logs in."""
    store = box.store
    client = ClientId("123456789")
    # the plan is the same all day long: it is drawn from midnight (UTC)
    now = SystemClock().now().replace(hour=0, minute=0, second=0, microsecond=0)
    planned = plan(now, fast=fast)
    # the box was opened two days before its first document: the accountant's subscription,
    # the companies, the rights and the accepted invitation date from then (so the
    # accountant, a third party, is told of documents only after accepting)
    clock = FixedClock(planned[0].published_at - timedelta(days=2))
    clocked = Securebox.from_policy(
        box.policy,
        store=store,
        keys=load_master_key(settings),
        clock=clock,
        argon2=PROFILE_TESTING if fast else PROFILE_2026,
    )
    _accountant(clocked, box)
    clock.advance(timedelta(days=1))
    _portfolio(clocked, client)
    documents = build_documents(settings, clocked)
    assert documents is not None  # the demo runs on SQLite
    for type_ in PLANNED_TYPES:
        documents.define_type(type_)
    _senders(settings, clocked)
    documents.set_company_contact(client, BAKERY, BAKERY_CONTACT, actor=BANK_OFFICE.key)
    published: dict[int, list[str]] = {}
    for step in _steps(planned, client, now):
        clock.advance(max(timedelta(0), step.at - clock.now()))
        if step.reader is None:
            p = planned[step.index]
            publication = documents.publish(
                p.sender,
                _body(step.index, p),
                p.companies,
                idempotency_key=f"demo-{step.index:04d}",
            )
            published[step.index] = list(publication.document_ids)
        elif step.how is None:
            documents.visit(step.reader)
        else:  # a reader opens the copies they may see (one per company)
            for doc_id in published[step.index]:
                doc = documents.get(doc_id)
                assert doc is not None
                if clocked.entitlements.check(step.reader, Operation.VIEW, reference(doc)).allowed:
                    documents.record_read(doc, step.reader, step.how)
    registered = next(n for n, p in enumerate(planned) if p.type == "lre" and p.sender == URSSAF)
    for doc_id in published[registered]:
        documents.set_legal_hold(doc_id, True, actor=BANK_OFFICE.key)
    count = sum(len(ids) for ids in published.values())
    names = "; ".join(f"{siren.value} - {name}" for siren, name in COMPANIES)
    return [
        f"Digital box of {client.value}: {count} documents from the bank, an insurer, the "
        f"URSSAF and the DGFiP over {'2' if fast else '18'} months, for {names}. 01 sees "
        "everything, 02 and 05 the whole portfolio, 03 only the payroll of Boulangerie Martin, "
        "04 statements and notices of two companies (view only); a few notices and "
        "attestations end within days; a registered letter is under legal hold",
        f"{ACCOUNTANT.client_id.value} / 01: code {ACCOUNTANT_CODE} ({ACCOUNTANT_FIRM}, a third "
        f"party: the accountant invited by {client.value} on tax, payroll and statements of "
        "two companies)",
    ]
