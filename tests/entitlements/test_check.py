"""check(): a table of role x action x resource, plus the rules one by one."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.check import check, check_user, effective_rights
from securebox_auth.entitlements.model import (
    Company,
    DocumentScope,
    InvitationStatus,
    Operation,
    Rights,
)
from securebox_auth.entitlements.resources import (
    CompanyRef,
    DocumentRef,
    Resource,
    SubscriptionRef,
    UserRef,
)
from securebox_auth.entitlements.visibility import visibility_filter
from securebox_auth.identity import Principal, Siren
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    ADMIN,
    AM,
    B_USER,
    C1,
    C2,
    C3,
    CLERK,
    NOW,
    PU,
    TAX,
    TREASURER,
    A,
    B,
    disabled,
    doc,
    sub_a,
    sub_b,
)

OP = Operation
PAY_C1 = doc(1)  # payroll document of company 1
TAX_C1 = doc(2, theme=TAX)
PAY_C2 = doc(3, company=C2)
B_DOC = doc(4, client=B, company=C3, theme=TAX)

ROWS: list[tuple[Principal, Operation, Resource, bool]] = [
    # principal user: everything in the own subscription, nothing elsewhere
    (PU, OP.VIEW, PAY_C2, True),
    (PU, OP.SHARE, TAX_C1, True),
    (PU, OP.MANAGE_COMPANIES, SubscriptionRef(A), True),
    (PU, OP.MANAGE_RIGHTS, UserRef(ADMIN, Role.ADMINISTRATOR), True),
    (PU, OP.MANAGE_RIGHTS, UserRef(PU, Role.PRINCIPAL_USER), False),  # not oneself
    (PU, OP.SWITCH_TO_PAPER, SubscriptionRef(A), True),
    (PU, OP.VIEW, B_DOC, False),  # other subscription
    # administrator with every right: all but the principal user and oneself
    (ADMIN, OP.MANAGE_USERS, UserRef(CLERK, Role.USER), True),
    (ADMIN, OP.MANAGE_USERS, UserRef(PU, Role.PRINCIPAL_USER), False),
    (ADMIN, OP.MANAGE_RIGHTS, UserRef(ADMIN, Role.ADMINISTRATOR), False),
    (ADMIN, OP.SWITCH_TO_PAPER, SubscriptionRef(A), True),
    (ADMIN, OP.TRANSFER, CompanyRef(A, C2), True),
    (ADMIN, OP.VIEW, B_DOC, False),
    # access manager: plain users only, never companies or paper
    (AM, OP.MANAGE_USERS, UserRef(CLERK, Role.USER), True),
    (AM, OP.MANAGE_USERS, UserRef(ADMIN, Role.ADMINISTRATOR), False),
    (AM, OP.MANAGE_RIGHTS, UserRef(CLERK, Role.USER), False),  # not granted to this AM
    (AM, OP.MANAGE_COMPANIES, SubscriptionRef(A), False),
    (AM, OP.SWITCH_TO_PAPER, SubscriptionRef(A), False),
    (AM, OP.VIEW, TAX_C1, True),
    (AM, OP.SHARE, TAX_C1, False),
    # collaborator with partial rights: company 1, payroll, view + download
    (CLERK, OP.VIEW, PAY_C1, True),
    (CLERK, OP.DOWNLOAD, PAY_C1, True),
    (CLERK, OP.SHARE, PAY_C1, False),
    (CLERK, OP.VIEW, TAX_C1, False),  # theme not granted
    (CLERK, OP.VIEW, PAY_C2, False),  # company not granted
    (CLERK, OP.LIST_USERS, SubscriptionRef(A), True),
    (CLERK, OP.EDIT_OWN_ACCOUNT, UserRef(CLERK, Role.USER), True),
    (CLERK, OP.EDIT_OWN_ACCOUNT, UserRef(TREASURER, Role.USER), False),
    (CLERK, OP.MANAGE_USERS, UserRef(TREASURER, Role.USER), False),
    (CLERK, OP.SWITCH_TO_PAPER, SubscriptionRef(A), False),
    (CLERK, OP.TRANSFER, CompanyRef(A, C1), False),
    # treasurer: banking operations on the whole portfolio
    (TREASURER, OP.TRANSFER, CompanyRef(A, C2), True),
    (TREASURER, OP.MANAGE_PAYEES, CompanyRef(A, C1), True),
    (TREASURER, OP.SIGN_BATCHES, CompanyRef(A, C1), False),
    (TREASURER, OP.TRANSFER, PAY_C1, False),  # a transfer is on a company, not a document
    # accepted third party: view/download on company 1 only
    (ACCOUNTANT, OP.VIEW, PAY_C1, True),
    (ACCOUNTANT, OP.DOWNLOAD, TAX_C1, True),
    (ACCOUNTANT, OP.SHARE, TAX_C1, False),
    (ACCOUNTANT, OP.VIEW, PAY_C2, False),
    (ACCOUNTANT, OP.LIST_USERS, SubscriptionRef(A), False),
    (ACCOUNTANT, OP.TRANSFER, CompanyRef(A, C1), False),
    (ACCOUNTANT, OP.MANAGE_USERS, SubscriptionRef(A), False),
    # a user of the other subscription without an invitation
    (B_USER, OP.VIEW, PAY_C1, False),
    (B_USER, OP.LIST_USERS, SubscriptionRef(A), False),
]


@pytest.mark.parametrize(("actor", "action", "resource", "allowed"), ROWS)
def test_role_action_resource(
    actor: Principal, action: Operation, resource: Resource, allowed: bool
) -> None:
    sub = sub_a() if resource.client_id == A else sub_b()
    decision = check(ACCOUNTS[actor], action, resource, sub, NOW)
    assert decision.allowed is allowed, decision.explain()
    assert bool(decision) is allowed
    assert decision.explain().startswith("ALLOW" if allowed else "DENY")


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (None, False),
        (InvitationStatus.PENDING, False),
        (InvitationStatus.ACCEPTED, True),
        (InvitationStatus.DECLINED, False),
        (InvitationStatus.REVOKED, False),
    ],
)
def test_third_party_needs_an_accepted_invitation(
    status: InvitationStatus | None, allowed: bool
) -> None:
    decision = check(ACCOUNTS[ACCOUNTANT], OP.VIEW, PAY_C1, sub_a(status), NOW)
    assert decision.allowed is allowed


def test_accepted_invitation_still_works_after_its_pending_expiry() -> None:
    later = NOW + timedelta(days=30)
    assert check(ACCOUNTS[ACCOUNTANT], OP.VIEW, PAY_C1, sub_a(), later).allowed


def test_pending_invitation_expires() -> None:
    sub = sub_a(InvitationStatus.PENDING)
    invitation = sub.invitations["inv-1"]
    assert invitation.status_at(NOW) is InvitationStatus.PENDING
    assert invitation.status_at(invitation.expires_at) is InvitationStatus.EXPIRED


def test_revocation_applies_at_the_next_check() -> None:
    accepted, revoked = sub_a(), sub_a(InvitationStatus.REVOKED)
    actor = ACCOUNTS[ACCOUNTANT]
    assert check(actor, OP.VIEW, PAY_C1, accepted, NOW).allowed
    assert not check(actor, OP.VIEW, PAY_C1, revoked, NOW).allowed


def test_removed_company_is_out_of_reach_even_for_the_principal_user() -> None:
    sub = sub_a().without_company(C1)
    for actor in (PU, ADMIN, ACCOUNTANT):
        assert not check(ACCOUNTS[actor], OP.VIEW, PAY_C1, sub, NOW).allowed
    # the invitation named only that company: it is revoked, not left dangling
    assert sub.invitations["inv-1"].status is InvitationStatus.REVOKED
    assert C1 not in sub.rights_of(CLERK).companies.chosen


def test_whole_portfolio_covers_a_company_added_later() -> None:
    new = Siren("542107651")
    sub = sub_a().with_company(Company(new, "New", NOW))
    later_doc = DocumentRef(A, new, TAX, "doc-new", "new", NOW)
    assert check(ACCOUNTS[TREASURER], OP.VIEW, later_doc, sub, NOW).allowed
    assert not check(ACCOUNTS[CLERK], OP.VIEW, later_doc, sub, NOW).allowed


def test_disabled_accounts_get_nothing() -> None:
    for actor in (PU, ADMIN, CLERK):
        decision = check(disabled(ACCOUNTS[actor]), OP.VIEW, PAY_C1, sub_a(), NOW)
        assert not decision.allowed
        assert "not active" in decision.explain()


def test_resource_of_another_subscription_is_refused_with_a_reason() -> None:
    decision = check(ACCOUNTS[PU], OP.VIEW, B_DOC, sub_a(), NOW)
    assert not decision.allowed
    assert "tenant" in decision.explain()


def test_explain_names_the_rule_and_facts() -> None:
    text = check(ACCOUNTS[CLERK], OP.VIEW, TAX_C1, sub_a(), NOW).explain()
    assert text.splitlines()[0] == "DENY view"
    assert "rights of the user" in text
    assert "partial access excludes theme tax" in text
    text = check(ACCOUNTS[CLERK], OP.VIEW, PAY_C1, sub_a(), NOW).explain()
    assert "company 732829320" in text
    assert "theme payroll" in text


def test_effective_rights_sources() -> None:
    rights, source = effective_rights(ACCOUNTS[PU], sub_a(), NOW)
    assert rights == Rights.everything()
    assert source == "principal user"
    rights, source = effective_rights(ACCOUNTS[ACCOUNTANT], sub_a(), NOW)
    assert rights.companies.chosen == {C1}
    assert "inv-1" in source
    rights, source = effective_rights(ACCOUNTS[B_USER], sub_a(), NOW)
    assert rights == Rights()
    assert source == "no accepted invitation"


def test_partial_document_access_by_chosen_document() -> None:
    sub = sub_a()
    rights = replace(sub.rights_of(CLERK), documents=DocumentScope(documents=frozenset({"doc-2"})))
    sub = sub.with_rights(CLERK, rights)
    account: Account = ACCOUNTS[CLERK]
    assert check(account, OP.VIEW, TAX_C1, sub, NOW).allowed  # doc-2 chosen by hand
    assert not check(account, OP.VIEW, PAY_C1, sub, NOW).allowed


@pytest.mark.parametrize("action", [OP.DOWNLOAD, OP.SHARE])
def test_download_and_share_need_view(action: Operation) -> None:
    """Rights stored without view (before the admin rules refused them) open no body
    that no list shows: check() and the visibility filter both refuse, saying why."""
    sub = sub_a()
    sub = sub.with_rights(CLERK, replace(sub.rights_of(CLERK), operations=frozenset({action})))
    account: Account = ACCOUNTS[CLERK]
    decision = check(account, action, PAY_C1, sub, NOW)
    assert not decision.allowed
    assert f"{action} needs view, which is not granted" in decision.explain()
    assert visibility_filter(account, [sub], NOW, action).empty
    with_view = sub.with_rights(
        CLERK, replace(sub.rights_of(CLERK), operations=frozenset({action, OP.VIEW}))
    )
    assert check(account, action, PAY_C1, with_view, NOW).allowed
    assert not visibility_filter(account, [with_view], NOW, action).empty


def test_an_invitation_made_before_the_account_was_created_grants_nothing() -> None:
    """Issue 11: a user number reused by a new person must not inherit an invitation that
    named the previous holder (even one stored before removals revoked them)."""
    sub = sub_a()  # the accountant's invitation was made a day before NOW
    assert check(ACCOUNTS[ACCOUNTANT], OP.VIEW, PAY_C1, sub, NOW).allowed
    newcomer = replace(ACCOUNTS[ACCOUNTANT], created_at=NOW - timedelta(hours=1))
    decision = check(newcomer, OP.VIEW, PAY_C1, sub, NOW)
    assert not decision.allowed
    assert "no accepted invitation" in decision.explain()
    assert effective_rights(newcomer, sub, NOW)[0] == Rights()


def test_check_user_reads_the_role_and_the_rights_of_the_stored_target() -> None:
    limited = Rights(operations=frozenset({OP.MANAGE_USERS, OP.MANAGE_RIGHTS}))
    sub = sub_a().with_rights(ADMIN, limited)
    decision = check_user(ACCOUNTS[ADMIN], OP.MANAGE_USERS, ACCOUNTS[TREASURER], sub, NOW)
    assert not decision.allowed
    assert "holds rights the actor lacks" in decision.explain()
    # the access manager manages plain users only: the stored role decides, not the caller
    decision = check_user(ACCOUNTS[AM], OP.MANAGE_USERS, ACCOUNTS[ADMIN], sub, NOW)
    assert not decision.allowed
    assert check_user(ACCOUNTS[PU], OP.MANAGE_USERS, ACCOUNTS[TREASURER], sub, NOW).allowed
    # non-administrative actions are the plain check
    assert check_user(ACCOUNTS[CLERK], OP.EDIT_OWN_ACCOUNT, ACCOUNTS[CLERK], sub, NOW).allowed
