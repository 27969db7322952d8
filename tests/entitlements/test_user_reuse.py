"""Issue 11: removing a user ends everything that named them, so that a new person given the
same user number later inherits nothing (invitations, sessions, factors)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    InvitationStatus,
    Operation,
    Rights,
)
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import AccountExists, NotAuthenticated, NotPermitted
from securebox_auth.identity import ClientId, Principal
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, PutFactorState
from tests.entitlements.test_service import (
    ACME,
    ACME_CLIENT,
    BACK_OFFICE,
    PAYROLL,
    World,
    _session,
)
from tests.entitlements.world import NOW

B_CLIENT = "555000111"
B_BOSS = Principal.parse(B_CLIENT, "01")
B_02 = Principal.parse(B_CLIENT, "02")
READER = Rights(CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.VIEW}))
PAYSLIPS = DocumentRef(ACME_CLIENT, ACME, PAYROLL, "d-1", "Payslips", NOW)


class _Commits(MemoryStore):
    """The in-memory store, remembering what each commit wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[list[Change], list[AuditEvent]]] = []

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        super().commit(changes, events)
        self.log.append((list(changes), list(events)))


def _world_with_invited_b02() -> tuple[World, str, str]:
    """A invites B's user 02, who accepts; returns (world, B's boss session, 02's session)."""
    world = World()
    world.store = _Commits()
    world.service = EntitlementService(
        world.store, world.hasher, company_proofs=world.proofs, clock=world.clock
    )
    world.service.open_subscription(BACK_OFFICE, Principal.parse("123456789", "01"))
    boss = _session(world, Principal.parse("123456789", "01"))
    world.service.add_company(boss, ACME, "ACME", world.proofs.issue(ACME))
    world.service.open_subscription(BACK_OFFICE, B_BOSS)
    b_boss = _session(world, B_BOSS)
    world.service.add_user(b_boss, B_02, Role.USER, Rights())
    first = _session(world, B_02)
    for _ in range(2):  # two invitations, one of them still pending
        invitation = world.service.invite(boss, B_02, frozenset({ACME}))
    world.service.accept_invitation(first, ACME_CLIENT, invitation)
    return world, b_boss, first


def _sees(world: World, who: Principal) -> int:
    catalogue = MemoryCatalogue()
    catalogue.add([PAYSLIPS])
    return len(catalogue.page(world.service.visible(who), DocumentQuery()).documents)


def test_a_new_holder_of_a_removed_user_number_sees_nothing_of_the_old_invitations() -> None:
    world, b_boss, old_session = _world_with_invited_b02()
    assert _sees(world, B_02) == 1
    assert world.service.check(B_02, Operation.VIEW, PAYSLIPS).allowed

    world.clock.advance(timedelta(minutes=1))
    world.service.remove_user(b_boss, B_02)
    # one commit removed the user, ended their sessions and revoked both invitations in
    # the other subscription
    _changes, events = world.store.log[-1]  # type: ignore[attr-defined]
    assert [e.action for e in events] == [
        "user.remove",
        "session.end_all",
        "invitation.revoke",
        "invitation.revoke",
    ]
    assert dict(events[1].details) == {"count": "1", "reason": "user_removed"}
    assert {dict(e.details)["reason"] for e in events[2:]} == {"invitee_removed"}
    assert {dict(e.details)["subscription"] for e in events[2:]} == {ACME_CLIENT.value}
    host = world.store.get_subscription(ACME_CLIENT)
    assert host is not None
    assert {i.status for i in host.value.invitations.values()} == {InvitationStatus.REVOKED}

    world.clock.advance(timedelta(minutes=1))
    world.service.add_user(b_boss, B_02, Role.USER, READER)  # a new person, number 02
    assert _sees(world, B_02) == 0
    assert not world.service.check(B_02, Operation.VIEW, PAYSLIPS).allowed
    # the removed person's session does not become the new person's
    with pytest.raises(NotAuthenticated):
        world.service.decline_invitation(old_session, ACME_CLIENT, "anything")
    assert verify_audit_chains(world.store.audit_key, world.store).total == len(
        list(world.store.audit_log())
    )


def test_removal_revokes_invitations_even_when_the_host_changes_meanwhile() -> None:
    """The host subscription changes between the read and the commit of the removal: the
    removal starts again and still revokes, in its own commit."""
    world, b_boss, _ = _world_with_invited_b02()
    store: _Commits = world.store  # type: ignore[assignment]
    boss = _session(world, Principal.parse("123456789", "01"))
    real_commit = store.commit
    raced: list[bool] = []

    def commit(changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        if not raced and any(e.action == "user.remove" for e in events):
            raced.append(True)
            world.service.invite(boss, B_02, frozenset({ACME}))  # a third invitation
        real_commit(changes, events)

    store.commit = commit  # type: ignore[method-assign]
    world.service.remove_user(b_boss, B_02)
    host = world.store.get_subscription(ACME_CLIENT)
    assert host is not None
    assert len(host.value.invitations) == 3
    assert {i.status for i in host.value.invitations.values()} == {InvitationStatus.REVOKED}


def test_a_user_number_is_not_reused_while_it_holds_the_previous_users_factors() -> None:
    """The removal erases the factors (ADR 0069); one left by an earlier version (written
    here after the removal) keeps the number from a new person until the removal is made
    again, which erases it. A verified phone counts: the new person would be sent codes
    at the previous holder's phone."""
    world, b_boss, _ = _world_with_invited_b02()
    world.store.commit([PutFactorState(B_02, "totp", "default", 0, {"seed": "x"})], [])
    world.service.remove_user(b_boss, B_02)
    assert world.store.get_factor_state(B_02, "totp", "default") is None
    for kind, item in (("totp", "default"), (fc.OOB_DESTINATION, "m1.phone")):
        world.store.commit([PutFactorState(B_02, kind, item, 0, {"left": "behind"})], [])
        with pytest.raises(AccountExists, match="factors"):
            world.service.add_user(b_boss, B_02, Role.USER, READER)
        account = world.store.get_account(B_02)
        assert account is not None
        assert not account.value.active
        world.service.remove_user(b_boss, B_02)  # again: erases what was left
    # another number is fine, and this one is free again
    world.service.add_user(b_boss, Principal.parse(B_CLIENT, "03"), Role.USER, READER)
    world.service.add_user(b_boss, B_02, Role.USER, READER)


def test_an_invitation_for_the_previous_holder_cannot_be_accepted_by_the_new_one() -> None:
    world, b_boss, _ = _world_with_invited_b02()
    boss = _session(world, Principal.parse("123456789", "01"))
    world.clock.advance(timedelta(minutes=1))
    world.service.remove_user(b_boss, B_02)
    # made after the removal, for the person the host still thinks is 02
    stale = world.service.invite(boss, B_02, frozenset({ACME}))
    world.clock.advance(timedelta(minutes=1))
    world.service.add_user(b_boss, B_02, Role.USER, READER)
    with pytest.raises(NotPermitted):
        world.service.accept_invitation(_session(world, B_02), ClientId("123456789"), stale)
    assert _sees(world, B_02) == 0


def test_a_new_holder_does_not_inherit_the_renewal_clock() -> None:
    """The previous holder's last strong authentication must not spare the new person the
    strong authentication of a first access (RTS art. 10(2)(a))."""
    world, b_boss, _old_session = _world_with_invited_b02()
    factors = FactorService(world.store, clock=world.clock)
    factors.record_sca(B_02, "web", world.clock.now())
    assert factors.last_sca(B_02, "web") == world.clock.now()
    before = world.clock.now()
    world.clock.advance(timedelta(minutes=1))
    world.service.remove_user(b_boss, B_02)
    assert world.store.get_factor_state(B_02, fc.RENEWAL, "web") is None  # ADR 0069
    factors.record_sca(B_02, "web", before)  # as an earlier version left it
    world.clock.advance(timedelta(minutes=1))
    world.service.add_user(b_boss, B_02, Role.USER, READER)  # a new person, number 02
    assert world.store.get_factor_state(B_02, fc.RENEWAL, "web") is not None
    assert factors.last_sca(B_02, "web") is None
