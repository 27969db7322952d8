"""A small, fixed world for entitlement tests: two subscriptions, their users, an
accountant invited on one company."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final

from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
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
    Theme,
)
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber

NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: When the accounts of this world were created (before any invitation of theirs).
CREATED: Final = NOW - timedelta(days=30)
A: Final = ClientId("111111111")
B: Final = ClientId("222222222")
C1: Final = Siren("732829320")
C2: Final = Siren("552100554")
C3: Final = Siren("443061841")  # in B's portfolio
PAYROLL: Final = Theme("payroll")
TAX: Final = Theme("tax")
STATEMENTS: Final = Theme("statements")


def p(client: ClientId, number: str) -> Principal:
    return Principal(client, UserNumber(number))


PU, ADMIN, AM, CLERK, TREASURER = (p(A, n) for n in ("01", "02", "03", "04", "05"))
ACCOUNTANT, B_USER = p(B, "01"), p(B, "02")

ACCOUNTS: Final = {
    PU: Account(PU, Role.PRINCIPAL_USER, CREATED),
    ADMIN: Account(ADMIN, Role.ADMINISTRATOR, CREATED),
    AM: Account(AM, Role.ACCESS_MANAGER, CREATED),
    CLERK: Account(CLERK, Role.USER, CREATED),
    TREASURER: Account(TREASURER, Role.USER, CREATED),
    ACCOUNTANT: Account(ACCOUNTANT, Role.PRINCIPAL_USER, CREATED),
    B_USER: Account(B_USER, Role.USER, CREATED),
}

RIGHTS: Final = {
    ADMIN: Rights.everything(),
    AM: Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.DOWNLOAD, Operation.MANAGE_USERS}),
    ),
    CLERK: Rights(
        CompanyScope.of(C1),
        DocumentScope(themes=frozenset({PAYROLL})),
        frozenset({Operation.VIEW, Operation.DOWNLOAD}),
    ),
    TREASURER: Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.TRANSFER, Operation.MANAGE_PAYEES}),
    ),
}


def invitation(status: InvitationStatus = InvitationStatus.ACCEPTED) -> Invitation:
    return Invitation(
        id="inv-1",
        invitee=ACCOUNTANT,
        companies=frozenset({C1}),
        documents=DocumentScope.all(),
        operations=THIRD_PARTY_OPERATIONS,
        invited_by=PU,
        created_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=13),
        status=status,
    )


def sub_a(invitation_status: InvitationStatus | None = InvitationStatus.ACCEPTED) -> Subscription:
    sub = Subscription(
        A,
        companies={C1: Company(C1, "ACME", NOW), C2: Company(C2, "ACME Services", NOW)},
        themes=frozenset({PAYROLL, TAX, STATEMENTS}),
        rights=RIGHTS,
    )
    if invitation_status is not None:
        sub = sub.with_invitation(invitation(invitation_status))
    return sub


def sub_b() -> Subscription:
    return Subscription(B, companies={C3: Company(C3, "Cabinet", NOW)}, themes=frozenset({TAX}))


def doc(
    number: int,
    *,
    client: ClientId = A,
    company: Siren = C1,
    theme: Theme = PAYROLL,
    days_ago: int = 0,
    label: str = "",
) -> DocumentRef:
    return DocumentRef(
        client,
        company,
        theme,
        f"doc-{number}",
        label or f"document {number}",
        NOW - timedelta(days=days_ago, minutes=number),
    )


def disabled(account: Account) -> Account:
    return replace(account, status=AccountStatus.DISABLED)
