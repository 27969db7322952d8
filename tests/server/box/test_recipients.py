"""box/recipients.py: the users told of a document are exactly those the entitlement rules
let view it at publication time."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import InvitationStatus, Operation, Theme
from securebox_auth.identity import Principal, Siren
from securebox_server.box.recipients import invitees, recipients
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    ADMIN,
    AM,
    C1,
    C2,
    CLERK,
    NOW,
    PAYROLL,
    PU,
    TAX,
    TREASURER,
    disabled,
    doc,
    sub_a,
)


def test_payroll_on_c1_reaches_the_clerk_and_the_accepted_accountant() -> None:
    told = recipients(
        doc(1, company=C1, theme=PAYROLL),
        sub_a(),
        ACCOUNTS.values(),
        has_company_address=True,
        now=NOW,
    )
    assert set(told.users) == {PU, ADMIN, AM, CLERK, TREASURER, ACCOUNTANT}
    assert told.company_address


def test_tax_on_c2_reaches_neither_the_clerk_nor_the_accountant() -> None:
    told = recipients(
        doc(2, company=C2, theme=TAX),
        sub_a(),
        ACCOUNTS.values(),
        has_company_address=False,
        now=NOW,
    )
    assert CLERK not in told.users
    assert ACCOUNTANT not in told.users
    assert not told.company_address


def test_a_pending_invitation_and_a_disabled_account_reach_nobody() -> None:
    pending = sub_a(InvitationStatus.PENDING)
    assert invitees(pending, NOW) == ()
    told = recipients(doc(3), pending, ACCOUNTS.values(), has_company_address=False, now=NOW)
    assert ACCOUNTANT not in told.users
    accounts = {**ACCOUNTS, CLERK: disabled(ACCOUNTS[CLERK])}
    told = recipients(doc(3), sub_a(), accounts.values(), has_company_address=False, now=NOW)
    assert CLERK not in told.users
    assert invitees(sub_a(), NOW) == (ACCOUNTANT,)


def test_a_service_account_is_never_told_though_entitled() -> None:
    told = recipients(
        doc(5, company=C1, theme=PAYROLL),
        sub_a(),
        ACCOUNTS.values(),
        has_company_address=False,
        now=NOW,
        machines=frozenset({CLERK}),
    )
    assert CLERK not in told.users
    assert PU in told.users


@given(
    st.sampled_from([C1, C2]),
    st.sampled_from([PAYROLL, TAX]),
    st.sampled_from(list(InvitationStatus)),
    st.frozensets(st.sampled_from(sorted(ACCOUNTS, key=lambda p: p.key))),
)
def test_recipients_are_exactly_the_entitled_viewers(
    company: Siren, theme: Theme, status: InvitationStatus, machines: frozenset[Principal]
) -> None:
    sub = sub_a(status)
    document = doc(4, company=company, theme=theme)
    told = recipients(
        document, sub, ACCOUNTS.values(), has_company_address=False, now=NOW, machines=machines
    )
    expected = {
        a.principal
        for a in ACCOUNTS.values()
        if check(a, Operation.VIEW, document, sub, NOW) and a.principal not in machines
    }
    assert set(told.users) == expected
    assert list(told.users) == sorted(told.users, key=lambda p: p.key)
    assert replace(told, company_address=True).users == told.users
