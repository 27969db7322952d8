"""The demo subscription: what a bank's back office and the principal user do before the
portal is used, through securebox's own calls (the portal's tables get their rows too).

* the back office opens subscription 123456789 for Alice (01), enrols her first TOTP seed
  and registers her mobile (``create_subscription``, ``enrol_first_totp``,
  ``register_destination``: the bank's acts, before any session);
* Alice's first login goes through the login flow (the letter's code, a new code, TOTP:
  the first-access rule asks for strong authentication) and, in that session, she adds two
  companies (with their proof secrets), the themes, and Bob (02), a clerk who may only see
  ACME SAS's payroll documents;
* the portal stores its own rows: the two customers and a few documents.

``python manage.py portal_demo`` runs it once and prints what each person needs; the tests
build the same state on a fresh store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from securebox_auth import (
    Channel,
    CodeAnswer,
    CompanyScope,
    ConfigurationError,
    DocumentScope,
    KeyedCompanyProofs,
    LoginState,
    OneTimeCode,
    Operation,
    Operator,
    Principal,
    Rights,
    Role,
    Securebox,
    Siren,
    Theme,
    TotpAnswer,
    TotpEnrolment,
    totp_code_at,
)

from .models import Document, User

CLIENT = "123456789"
ALICE = Principal.parse(CLIENT, "01")
BOB = Principal.parse(CLIENT, "02")
ALICE_CODE = "47120938"
ALICE_MOBILE = "+33612345678"
BOB_MOBILE = "+33698765432"
ACME = Siren("732829320")
SERVICES = Siren("552100554")
PAYROLL, TAX, STATEMENTS = Theme("payroll"), Theme("tax"), Theme("statements")
BACK_OFFICE = Operator("back-office")


@dataclass(frozen=True)
class Demo:
    """What the people of the demo hold: Alice's code and TOTP seed, Bob's letter and
    TOTP seed (shown once)."""

    alice_totp: TotpEnrolment
    bob_letter: OneTimeCode
    bob_totp: TotpEnrolment


def next_totp(enrolment: TotpEnrolment, box: Securebox) -> str:
    """The code of the next 30-second step (within the policy's window of one step): a
    script need not wait for a new step after the one just used."""
    return totp_code_at(enrolment.credential, box.now() + timedelta(seconds=30))


def open_demo(box: Securebox) -> Demo:
    """Open the demo subscription on ``box`` and the portal's rows (on an empty store)."""
    letter = box.codes.create_subscription(
        BACK_OFFICE, ALICE, themes=frozenset({PAYROLL, TAX, STATEMENTS})
    )
    alice_totp = box.enrol_first_totp(BACK_OFFICE, ALICE, issuer="django-portal")
    box.confirm_totp(ALICE, totp_code_at(alice_totp.credential, box.now()))
    box.register_destination(BACK_OFFICE, ALICE, channel=Channel.SMS, destination=ALICE_MOBILE)
    User.objects.create_customer(ALICE, name="Alice Martin", mobile=ALICE_MOBILE)

    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(letter.reveal()))
    page = box.change_login_code(page.handle, letter.reveal(), ALICE_CODE)
    if page.state is not LoginState.SECOND_FACTOR:
        raise ConfigurationError(f"the demo's login: {page.explain()}")
    page = box.answer_login(page.handle, TotpAnswer(next_totp(alice_totp, box)))
    if page.session_id is None:
        raise ConfigurationError(f"the demo's login: {page.explain()}")
    session = page.session_id

    proofs = box.entitlements.company_proofs
    if not isinstance(proofs, KeyedCompanyProofs):
        raise ConfigurationError("the demo issues company proofs with KeyedCompanyProofs")
    box.entitlements.add_company(session, ACME, "ACME SAS", proofs.issue(ACME))
    box.entitlements.add_company(session, SERVICES, "ACME Services", proofs.issue(SERVICES))
    bob_rights = Rights(
        CompanyScope.of(ACME),
        DocumentScope(themes=frozenset({PAYROLL})),
        frozenset({Operation.VIEW, Operation.DOWNLOAD}),
    )
    bob_letter = box.entitlements.add_user(session, BOB, Role.USER, bob_rights)
    box.end(session)
    bob_totp = box.enrol_first_totp(BACK_OFFICE, BOB, issuer="django-portal")
    box.confirm_totp(BOB, totp_code_at(bob_totp.credential, box.now()))
    box.register_destination(BACK_OFFICE, BOB, channel=Channel.SMS, destination=BOB_MOBILE)
    User.objects.create_customer(BOB, name="Bob Durand", mobile=BOB_MOBILE)

    documents = [
        (ACME, PAYROLL, "acme-pay-2026-01", "ACME payslips January 2026", 1),
        (ACME, PAYROLL, "acme-pay-2026-02", "ACME payslips February 2026", 2),
        (ACME, TAX, "acme-vat-2026-q1", "ACME VAT return Q1 2026", 3),
        (SERVICES, PAYROLL, "services-pay-2026-01", "ACME Services payslips January 2026", 1),
        (SERVICES, STATEMENTS, "services-stmt-2026-02", "ACME Services statement Feb 2026", 2),
    ]
    Document.objects.bulk_create(
        Document(
            client_id=CLIENT,
            company=company.value,
            theme=theme.name,
            document_id=document_id,
            label=label,
            issued_at=datetime(2026, month, 5, 9, 0, tzinfo=UTC),
            body=f"{label}\n(sample body)",
        )
        for company, theme, document_id, label, month in documents
    )
    return Demo(alice_totp, bob_letter, bob_totp)
