"""Hypothesis state machine: no sequence of administrative actions lets a user obtain a
right that no administrator granted, and revocation always takes effect at the next check."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.check import ADMIN_ROLES, check, effective_rights
from securebox_auth.entitlements.model import (
    GRANTABLE_OPERATIONS,
    Company,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
)
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal, Siren, UserNumber
from tests.entitlements.strategies import rights as rights_of
from tests.entitlements.world import ACCOUNTANT, ACCOUNTS, C1, C2, NOW, PAYROLL, PU, TAX, A, doc

NUMBERS = [f"{n:02d}" for n in range(1, 9)]
rights_st = rights_of([C1, C2], [PAYROLL, TAX], sorted(GRANTABLE_OPERATIONS, key=lambda o: o.value))
roles_st = st.sampled_from([Role.ADMINISTRATOR, Role.ACCESS_MANAGER, Role.USER])
REFUSED = (NotPermitted, MalformedInput)


class AdministrationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sub = Subscription(
            A,
            companies={C1: _company(C1), C2: _company(C2)},
            themes=frozenset({PAYROLL, TAX}),
        )
        self.accounts: dict[Principal, Account] = {PU: ACCOUNTS[PU]}
        # what successful administrative actions set: the only source of rights
        self.granted: dict[Principal, Rights] = {}
        self.invitation_seq = 0

    def _actor(self, number: str) -> Account | None:
        return self.accounts.get(Principal(A, UserNumber(number)))

    def _others(self) -> list[Account]:
        return list(self.accounts.values())

    @rule(
        actor=st.sampled_from(NUMBERS),
        number=st.sampled_from(NUMBERS),
        role=roles_st,
        rights=rights_st,
    )
    def add_user(self, actor: str, number: str, role: Role, rights: Rights) -> None:
        acting = self._actor(actor)
        target = Principal(A, UserNumber(number))
        if acting is None:
            return
        held, _ = effective_rights(acting, self.sub, NOW)
        existing = self.accounts.get(target)
        try:
            change = admin.add_user(
                acting, self.sub, target, role, rights, existing=existing, now=NOW
            )
        except REFUSED:
            return
        assert rights.within(held), "granted a right the actor did not hold"
        assert acting.active
        assert acting.role in (*ADMIN_ROLES, Role.ACCESS_MANAGER)
        self.sub = change.subscription
        self.accounts[target] = change.accounts[0]
        self.granted[target] = rights

    @rule(actor=st.sampled_from(NUMBERS), number=st.sampled_from(NUMBERS), rights=rights_st)
    def set_rights(self, actor: str, number: str, rights: Rights) -> None:
        acting, target = self._actor(actor), self._actor(number)
        if acting is None or target is None:
            return
        held, _ = effective_rights(acting, self.sub, NOW)
        try:
            change = admin.set_rights(acting, self.sub, target, rights, now=NOW)
        except REFUSED:
            return
        assert acting.principal != target.principal, "changed their own rights"
        assert rights.within(held), "granted a right the actor did not hold"
        self.sub = change.subscription
        self.granted[target.principal] = rights

    @rule(actor=st.sampled_from(NUMBERS), number=st.sampled_from(NUMBERS), role=roles_st)
    def set_role(self, actor: str, number: str, role: Role) -> None:
        acting, target = self._actor(actor), self._actor(number)
        if acting is None or target is None:
            return
        held, _ = effective_rights(acting, self.sub, NOW)
        try:
            change = admin.set_role(acting, self.sub, target, role, others=self._others(), now=NOW)
        except REFUSED:
            return
        assert acting.principal != target.principal
        assert acting.role in ADMIN_ROLES
        assert self.sub.rights_of(target.principal).within(held), "acted on a stronger user"
        self.accounts[target.principal] = change.accounts[0]

    @rule(actor=st.sampled_from(NUMBERS), number=st.sampled_from(NUMBERS))
    def remove_user(self, actor: str, number: str) -> None:
        acting, target = self._actor(actor), self._actor(number)
        if acting is None or target is None:
            return
        try:
            change = admin.remove_user(acting, self.sub, target, others=self._others(), now=NOW)
        except REFUSED:
            return
        self.sub = change.subscription
        self.accounts[target.principal] = change.accounts[0]
        self.granted.pop(target.principal, None)

    @rule(actor=st.sampled_from(NUMBERS))
    def invite_and_accept(self, actor: str) -> None:
        acting = self._actor(actor)
        if acting is None:
            return
        self.invitation_seq += 1
        ident = f"inv-{self.invitation_seq}"
        try:
            change = admin.invite_third_party(
                acting, self.sub, ACCOUNTANT, frozenset({C1}), invitation_id=ident, now=NOW
            )
        except REFUSED:
            return
        self.sub = admin.accept_invitation(
            ACCOUNTS[ACCOUNTANT], change.subscription, ident, now=NOW
        ).subscription
        assert check(ACCOUNTS[ACCOUNTANT], Operation.VIEW, doc(1), self.sub, NOW).allowed

    @precondition(lambda self: bool(self.sub.active_invitations(ACCOUNTANT, NOW)))
    @rule()
    def revoke_all(self) -> None:
        for ident in list(self.sub.invitations):
            self.sub = admin.revoke_invitation(ACCOUNTS[PU], self.sub, ident, now=NOW).subscription
        # revocation takes effect at the very next check
        assert not check(ACCOUNTS[ACCOUNTANT], Operation.VIEW, doc(1), self.sub, NOW).allowed
        assert all(i.status is InvitationStatus.REVOKED for i in self.sub.invitations.values())

    @invariant()
    def rights_come_only_from_grants(self) -> None:
        for principal, rights in self.sub.rights.items():
            assert self.granted.get(principal) == rights

    @invariant()
    def principal_user_is_untouchable(self) -> None:
        pu = self.accounts[PU]
        assert pu.role is Role.PRINCIPAL_USER
        assert pu.active
        others = [a for p, a in self.accounts.items() if p != PU]
        assert all(a.role is not Role.PRINCIPAL_USER for a in others)

    @invariant()
    def removed_users_reach_nothing(self) -> None:
        for account in self.accounts.values():
            if not account.active:
                assert not check(account, Operation.VIEW, doc(1), self.sub, NOW).allowed


def _company(siren: Siren) -> Company:
    return Company(siren, "Company", NOW)


AdministrationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
TestAdministration = AdministrationMachine.TestCase
