"""Administrative transitions: every rule, and the audit events they produce."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    InvitationStatus,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal, Siren, UserNumber
from tests.entitlements.world import (
    ACCOUNTANT,
    ACCOUNTS,
    ADMIN,
    AM,
    B_USER,
    C1,
    C2,
    CLERK,
    NOW,
    PAYROLL,
    PU,
    TREASURER,
    A,
    doc,
    sub_a,
)

NEW = Principal(A, UserNumber("09"))
VIEW_C1 = Rights(CompanyScope.of(C1), DocumentScope.all(), frozenset({Operation.VIEW}))
EVERYONE = list(ACCOUNTS.values())


def test_principal_user_adds_a_user_with_an_audit_record() -> None:
    change = admin.add_user(ACCOUNTS[PU], sub_a(), NEW, Role.USER, VIEW_C1, existing=None, now=NOW)
    (account,) = change.accounts
    assert account.principal == NEW
    assert account.role is Role.USER
    assert change.subscription.rights_of(NEW) == VIEW_C1
    (event,) = change.events
    assert event.action == "user.add"
    assert event.actor == PU.key
    assert event.subject == NEW.key
    assert dict(event.details)["rights_after"] == (
        "companies=732829320;documents=total;operations=view"
    )


@pytest.mark.parametrize("role", [Role.PRINCIPAL_USER, Role.THIRD_PARTY])
def test_nobody_creates_a_principal_user_or_third_party_account(role: Role) -> None:
    with pytest.raises(NotPermitted):
        admin.add_user(ACCOUNTS[PU], sub_a(), NEW, role, Rights(), existing=None, now=NOW)


def test_collaborator_cannot_add_users() -> None:
    with pytest.raises(NotPermitted):
        admin.add_user(ACCOUNTS[CLERK], sub_a(), NEW, Role.USER, Rights(), existing=None, now=NOW)


def test_access_manager_grants_plain_user_access_within_own_rights() -> None:
    change = admin.add_user(ACCOUNTS[AM], sub_a(), NEW, Role.USER, VIEW_C1, existing=None, now=NOW)
    assert change.subscription.rights_of(NEW) == VIEW_C1
    with pytest.raises(NotPermitted):
        admin.add_user(
            ACCOUNTS[AM], sub_a(), NEW, Role.ADMINISTRATOR, VIEW_C1, existing=None, now=NOW
        )
    too_much = Rights(CompanyScope.of(C1), DocumentScope.all(), frozenset({Operation.TRANSFER}))
    with pytest.raises(NotPermitted, match="do not hold"):
        admin.add_user(ACCOUNTS[AM], sub_a(), NEW, Role.USER, too_much, existing=None, now=NOW)


def test_nobody_grants_a_right_they_do_not_hold() -> None:
    sub = sub_a().with_rights(
        ADMIN,
        Rights(
            CompanyScope.of(C1),
            DocumentScope.all(),
            frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS}),
        ),
    )
    portfolio = Rights(CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.VIEW}))
    with pytest.raises(NotPermitted):
        admin.add_user(ACCOUNTS[ADMIN], sub, NEW, Role.USER, portfolio, existing=None, now=NOW)
    # nor manages a user who holds rights they lack (the treasurer has the whole portfolio)
    with pytest.raises(NotPermitted, match="rights you lack"):
        admin.set_rights(ACCOUNTS[ADMIN], sub, ACCOUNTS[TREASURER], VIEW_C1, now=NOW)


def test_nobody_changes_their_own_rights_or_role() -> None:
    with pytest.raises(NotPermitted):
        admin.set_rights(ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[ADMIN], Rights(), now=NOW)
    with pytest.raises(NotPermitted):
        admin.set_role(
            ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[ADMIN], Role.USER, others=EVERYONE, now=NOW
        )
    with pytest.raises(NotPermitted):
        admin.remove_user(ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[ADMIN], others=EVERYONE, now=NOW)


def test_principal_user_cannot_be_removed_or_demoted_by_an_administrator() -> None:
    with pytest.raises(NotPermitted):
        admin.remove_user(ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[PU], others=EVERYONE, now=NOW)
    with pytest.raises(NotPermitted):
        admin.set_role(ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[PU], Role.USER, others=EVERYONE, now=NOW)
    with pytest.raises(NotPermitted):
        admin.set_rights(ACCOUNTS[ADMIN], sub_a(), ACCOUNTS[PU], Rights(), now=NOW)


def test_last_administrator_cannot_be_removed() -> None:
    # a subscription whose principal user is disabled, with one administrator left
    others = [
        Account(PU, Role.PRINCIPAL_USER, NOW, status=AccountStatus.DISABLED),
        ACCOUNTS[ADMIN],
        ACCOUNTS[CLERK],
    ]
    second = Account(Principal(A, UserNumber("07")), Role.ADMINISTRATOR, NOW)
    sub = sub_a().with_rights(second.principal, Rights.everything())
    with pytest.raises(NotPermitted, match="last administrator"):
        admin.remove_user(second, sub, ACCOUNTS[ADMIN], others=others, now=NOW)
    with pytest.raises(NotPermitted, match="last administrator"):
        admin.set_role(second, sub, ACCOUNTS[ADMIN], Role.USER, others=others, now=NOW)
    # with the second administrator counted, it works
    change = admin.remove_user(second, sub, ACCOUNTS[ADMIN], others=[*others, second], now=NOW)
    assert change.accounts[0].status is AccountStatus.DISABLED


def test_removal_drops_rights_and_disables_the_account() -> None:
    change = admin.remove_user(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], others=EVERYONE, now=NOW)
    assert change.subscription.rights_of(CLERK) == Rights()
    assert not change.accounts[0].active
    assert dict(change.events[0].details)["rights_before"].startswith("companies=732829320")


def test_set_rights_records_before_and_after() -> None:
    change = admin.set_rights(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], VIEW_C1, now=NOW)
    details = dict(change.events[0].details)
    assert details["rights_before"] != details["rights_after"]
    assert change.subscription.rights_of(CLERK) == VIEW_C1


def test_rights_must_name_existing_companies_and_themes() -> None:
    ghost = Rights(CompanyScope.of(Siren("542107651")), DocumentScope.all(), frozenset())
    with pytest.raises(MalformedInput):
        admin.set_rights(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], ghost, now=NOW)
    odd_theme = Rights(CompanyScope.of(C1), DocumentScope(themes=frozenset({Theme("hr")})))
    with pytest.raises(MalformedInput):
        admin.set_rights(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], odd_theme, now=NOW)


def test_role_changes_only_by_administrators_and_never_to_principal_user() -> None:
    with pytest.raises(NotPermitted):
        admin.set_role(
            ACCOUNTS[AM], sub_a(), ACCOUNTS[CLERK], Role.ACCESS_MANAGER, others=EVERYONE, now=NOW
        )
    with pytest.raises(NotPermitted):
        admin.set_role(
            ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], Role.PRINCIPAL_USER, others=EVERYONE, now=NOW
        )
    change = admin.set_role(
        ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], Role.ACCESS_MANAGER, others=EVERYONE, now=NOW
    )
    assert change.accounts[0].role is Role.ACCESS_MANAGER
    assert dict(change.events[0].details) == {
        "role_before": "user",
        "role_after": "access_manager",
    }


def test_role_changes_follow_the_rule_of_rights_the_actor_lacks() -> None:
    """Issue 11: an administrator without company management promoted a user who held it,
    and a limited administrator demoted a full one."""
    limited = Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS}),
    )
    holder = Rights(
        CompanyScope.of(C1), DocumentScope.all(), frozenset({Operation.MANAGE_COMPANIES})
    )
    sub = sub_a().with_rights(ADMIN, limited).with_rights(CLERK, holder)
    full_admin = Account(NEW, Role.ADMINISTRATOR, NOW)
    sub = sub.with_rights(NEW, Rights.everything())
    others = [*EVERYONE, full_admin]
    with pytest.raises(NotPermitted, match="rights you lack"):  # promotion
        admin.set_role(
            ACCOUNTS[ADMIN], sub, ACCOUNTS[CLERK], Role.ADMINISTRATOR, others=others, now=NOW
        )
    with pytest.raises(NotPermitted, match="rights you lack"):  # demotion
        admin.set_role(ACCOUNTS[ADMIN], sub, full_admin, Role.USER, others=others, now=NOW)
    # the same changes by someone holding every right the target holds
    promoted = admin.set_role(
        ACCOUNTS[PU], sub, ACCOUNTS[CLERK], Role.ADMINISTRATOR, others=others, now=NOW
    )
    assert promoted.accounts[0].role is Role.ADMINISTRATOR
    demoted = admin.set_role(ACCOUNTS[PU], sub, full_admin, Role.USER, others=others, now=NOW)
    assert demoted.accounts[0].role is Role.USER
    # and a limited administrator still changes the role of a user within their rights
    within = sub.with_rights(CLERK, Rights(CompanyScope.of(C1), DocumentScope.all()))
    changed = admin.set_role(
        ACCOUNTS[ADMIN], within, ACCOUNTS[CLERK], Role.ACCESS_MANAGER, others=others, now=NOW
    )
    assert changed.accounts[0].role is Role.ACCESS_MANAGER


def test_company_needs_its_proof_and_an_administrator() -> None:
    new = Siren("542107651")
    with pytest.raises(NotPermitted):
        admin.add_company(ACCOUNTS[PU], sub_a(), new, "New", proof_valid=False, now=NOW)
    with pytest.raises(NotPermitted):
        admin.add_company(ACCOUNTS[CLERK], sub_a(), new, "New", proof_valid=True, now=NOW)
    change = admin.add_company(ACCOUNTS[PU], sub_a(), new, " New SAS ", proof_valid=True, now=NOW)
    assert change.subscription.companies[new].name == "New SAS"
    with pytest.raises(MalformedInput):
        admin.add_company(ACCOUNTS[PU], change.subscription, new, "x", proof_valid=True, now=NOW)


def test_remove_company() -> None:
    change = admin.remove_company(ACCOUNTS[ADMIN], sub_a(), C2, now=NOW)
    assert C2 not in change.subscription.companies
    with pytest.raises(MalformedInput):
        admin.remove_company(ACCOUNTS[ADMIN], change.subscription, C2, now=NOW)


def test_invitation_lifecycle() -> None:
    sub = sub_a(None)
    change = admin.invite_third_party(
        ACCOUNTS[PU], sub, ACCOUNTANT, frozenset({C1}), invitation_id="inv-9", now=NOW
    )
    sub = change.subscription
    invited = ACCOUNTS[ACCOUNTANT]
    assert not check(invited, Operation.VIEW, doc(1), sub, NOW).allowed  # pending
    # someone else cannot accept it, and gets the same answer as for a missing invitation
    with pytest.raises(NotPermitted, match="no such pending invitation"):
        admin.accept_invitation(ACCOUNTS[B_USER], sub, "inv-9", now=NOW)
    with pytest.raises(NotPermitted, match="no such pending invitation"):
        admin.accept_invitation(invited, sub, "inv-nope", now=NOW)
    sub = admin.accept_invitation(invited, sub, "inv-9", now=NOW).subscription
    assert check(invited, Operation.VIEW, doc(1), sub, NOW).allowed
    assert not check(invited, Operation.VIEW, doc(2, company=C2), sub, NOW).allowed
    with pytest.raises(NotPermitted):
        admin.accept_invitation(invited, sub, "inv-9", now=NOW)  # not pending any more
    sub = admin.revoke_invitation(ACCOUNTS[ADMIN], sub, "inv-9", now=NOW).subscription
    assert not check(invited, Operation.VIEW, doc(1), sub, NOW).allowed


def test_expired_invitation_cannot_be_accepted() -> None:
    sub = admin.invite_third_party(
        ACCOUNTS[PU], sub_a(None), ACCOUNTANT, frozenset({C1}), invitation_id="inv-9", now=NOW
    ).subscription
    later = NOW + admin.INVITATION_LIFETIME
    with pytest.raises(NotPermitted):
        admin.accept_invitation(ACCOUNTS[ACCOUNTANT], sub, "inv-9", now=later)


def test_declined_invitation_grants_nothing() -> None:
    sub = admin.invite_third_party(
        ACCOUNTS[PU], sub_a(None), ACCOUNTANT, frozenset({C1}), invitation_id="inv-9", now=NOW
    ).subscription
    change = admin.decline_invitation(ACCOUNTS[ACCOUNTANT], sub, "inv-9", now=NOW)
    assert change.subscription.invitations["inv-9"].status is InvitationStatus.DECLINED
    assert not check(ACCOUNTS[ACCOUNTANT], Operation.VIEW, doc(1), change.subscription, NOW)


def _invite_the_accountant(operations: frozenset[Operation]) -> admin.AdminChange:
    """The principal user invites the accountant on company C1 for ``operations``."""
    return admin.invite_third_party(
        ACCOUNTS[PU],
        sub_a(None),
        ACCOUNTANT,
        frozenset({C1}),
        invitation_id="x",
        operations=operations,
        now=NOW,
    )


@pytest.mark.parametrize(
    "operations", [{Operation.DOWNLOAD}, {Operation.SHARE, Operation.DOWNLOAD}]
)
def test_download_and_share_are_granted_with_view(operations: set[Operation]) -> None:
    without_view = Rights(CompanyScope.of(C1), DocumentScope.all(), frozenset(operations))
    with pytest.raises(MalformedInput, match="granted with view"):
        admin.set_rights(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], without_view, now=NOW)
    with pytest.raises(MalformedInput, match="granted with view"):
        admin.add_user(ACCOUNTS[PU], sub_a(), NEW, Role.USER, without_view, existing=None, now=NOW)
    if Operation.SHARE not in operations:  # a third party is given view and download only
        with pytest.raises(MalformedInput, match="granted with view"):
            _invite_the_accountant(frozenset(operations))
    with_view = Rights(
        without_view.companies, without_view.documents, without_view.operations | {Operation.VIEW}
    )
    changed = admin.set_rights(ACCOUNTS[PU], sub_a(), ACCOUNTS[CLERK], with_view, now=NOW)
    assert changed.subscription.rights_of(CLERK) == with_view


def test_invitation_rules() -> None:
    with pytest.raises(MalformedInput):  # own users are not third parties
        admin.invite_third_party(
            ACCOUNTS[PU], sub_a(None), CLERK, frozenset({C1}), invitation_id="x", now=NOW
        )
    with pytest.raises(MalformedInput):  # a third party never gets banking operations
        _invite_the_accountant(frozenset({Operation.TRANSFER}))
    with pytest.raises(NotPermitted):  # only administrators invite
        admin.invite_third_party(
            ACCOUNTS[CLERK], sub_a(None), ACCOUNTANT, frozenset({C1}), invitation_id="x", now=NOW
        )
    with pytest.raises(MalformedInput):
        admin.invite_third_party(
            ACCOUNTS[PU],
            sub_a(None),
            ACCOUNTANT,
            frozenset({C1}),
            invitation_id="x",
            lifetime=timedelta(minutes=5),
            now=NOW,
        )
    with pytest.raises(MalformedInput):  # companies outside the portfolio
        admin.invite_third_party(
            ACCOUNTS[PU],
            sub_a(None),
            ACCOUNTANT,
            frozenset({Siren("542107651")}),
            invitation_id="x",
            now=NOW,
        )


def test_only_administrators_switch_back_to_paper() -> None:
    with pytest.raises(NotPermitted):
        admin.switch_delivery(ACCOUNTS[CLERK], sub_a(), digital=False, now=NOW)
    with pytest.raises(NotPermitted):
        admin.switch_delivery(ACCOUNTS[AM], sub_a(), digital=False, now=NOW)
    change = admin.switch_delivery(ACCOUNTS[ADMIN], sub_a(), digital=False, now=NOW)
    assert change.subscription.digital is False
    assert dict(change.events[0].details) == {"before": "digital", "after": "paper"}


def test_themes() -> None:
    change = admin.add_theme(ACCOUNTS[PU], sub_a(), Theme("hr"), now=NOW)
    assert Theme("hr") in change.subscription.themes
    with pytest.raises(NotPermitted):
        admin.add_theme(ACCOUNTS[CLERK], sub_a(), Theme("hr"), now=NOW)
    with pytest.raises(MalformedInput):
        Theme("Not A Theme")
    assert PAYROLL in sub_a().themes
