"""EntitlementService: the shell over the in-memory store, end to end."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import AccountStatus, Operator, Role
from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.resources import DocumentRef, SubscriptionRef
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import (
    AccountExists,
    NotAuthenticated,
    NotPermitted,
    StepUpNeeded,
    UnknownAccount,
)
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.decision import StepUpRequired
from securebox_auth.policy.session import open_session
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change, OpenSession, PutAccount
from tests.entitlements.world import NOW

CLIENT = "123456789"
BOSS = Principal.parse(CLIENT, "01")
CLERK = Principal.parse(CLIENT, "02")
ACCOUNTANT = Principal.parse("555000111", "01")
ACME = Siren("732829320")
OTHER = Siren("552100554")
PAYROLL = Theme("payroll")
BACK_OFFICE = Operator("back-office")
ACME_CLIENT = ClientId(CLIENT)


def _session(world: World, principal: Principal, *methods: str) -> str:
    """Store a session that proved ``methods`` now (as a login would) and return its id."""
    opened = OpenSession(
        open_session(principal, "web", methods or ("cap_identify",), world.clock.now())
    )
    world.store.commit([opened], [])
    return opened.session_id


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.store = MemoryStore()
        self.hasher = Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING)
        self.proofs = KeyedCompanyProofs(StaticKeyring.generate())
        self.service = EntitlementService(
            self.store,
            self.hasher,
            company_proofs=self.proofs,
            clock=self.clock,
            lockout_rules=LockoutRules(max_failures=3),
        )
        self.codes = ConfidentialCodeService(
            self.store, self.hasher, clock=self.clock, lockout_rules=LockoutRules(max_failures=3)
        )
        self.service.open_subscription(BACK_OFFICE, BOSS, themes=frozenset({PAYROLL}))
        self.boss = _session(self, BOSS)
        self.service.add_company(self.boss, ACME, "ACME", self.proofs.issue(ACME))


@pytest.fixture
def world() -> World:
    return World()


def test_open_subscription_only_once_and_only_by_the_back_office(world: World) -> None:
    with pytest.raises(AccountExists):
        world.service.open_subscription(BACK_OFFICE, BOSS)
    with pytest.raises(NotPermitted):
        world.service.open_subscription(BOSS, ACCOUNTANT)  # type: ignore[arg-type]


def test_added_user_gets_a_one_time_code_to_change(world: World) -> None:
    rights = Rights(CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.VIEW}))
    code = world.service.add_user(world.boss, CLERK, Role.USER, rights)
    result = world.codes.login(CLIENT, "02", code.reveal())
    assert result.outcome is CodeOutcome.CHANGE_REQUIRED
    with pytest.raises(AccountExists):
        world.service.add_user(world.boss, CLERK, Role.USER, rights)


def test_wrong_company_proof_counts_as_a_failed_attempt(world: World) -> None:
    for _ in range(3):
        with pytest.raises(NotPermitted):
            world.service.add_company(world.boss, OTHER, "Other", "AAAA-BBBB-CCCC-DDDD")
    lockout = world.store.get_lockout(BOSS).value
    assert lockout.blocked_until is not None
    assert lockout.temporary_blocks == 1
    sub = world.store.get_subscription(ACME_CLIENT)
    assert sub is not None
    assert OTHER not in sub.value.companies
    failures = [e.event for e in world.store.audit_log() if e.event.action == "company.proof"]
    assert len(failures) == 3


def test_proofs_are_per_company_and_constant_format(world: World) -> None:
    proof = world.proofs.issue(ACME)
    assert len(proof) == 19
    assert proof.count("-") == 3
    assert world.proofs.verify(ACME, proof.lower().replace("-", " "))
    assert not world.proofs.verify(OTHER, proof)


def test_third_party_flow_and_listing(world: World) -> None:
    world.service.open_subscription(BACK_OFFICE, ACCOUNTANT)
    catalogue = MemoryCatalogue()
    catalogue.add([DocumentRef(ACME_CLIENT, ACME, PAYROLL, "d-1", "Payslips", NOW)])

    def visible(who: Principal) -> int:
        return len(catalogue.page(world.service.visible(who), DocumentQuery()).documents)

    invitation = world.service.invite(world.boss, ACCOUNTANT, frozenset({ACME}))
    assert visible(ACCOUNTANT) == 0
    world.service.accept_invitation(_session(world, ACCOUNTANT), ACME_CLIENT, invitation)
    assert visible(ACCOUNTANT) == 1
    world.service.revoke_invitation(world.boss, invitation)
    assert visible(ACCOUNTANT) == 0
    assert visible(BOSS) == 1


def test_check_for_unknown_actor_denies(world: World) -> None:
    ghost = Principal.parse(CLIENT, "77")
    decision = world.service.check(ghost, Operation.LIST_USERS, SubscriptionRef(ACME_CLIENT))
    assert not decision.allowed
    assert world.service.check(BOSS, Operation.LIST_USERS, SubscriptionRef(ACME_CLIENT)).allowed


def test_regenerate_and_unblock_follow_the_entitlement_rules(world: World) -> None:
    clerk_rights = Rights(
        CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.VIEW})
    )
    world.service.add_user(world.boss, CLERK, Role.USER, clerk_rights)
    admin = Principal.parse(CLIENT, "03")
    admin_rights = Rights(
        CompanyScope.portfolio(), DocumentScope.all(), frozenset({Operation.MANAGE_USERS})
    )
    world.service.add_user(world.boss, admin, Role.ADMINISTRATOR, admin_rights)
    as_admin = _session(world, admin)
    # the administrator lacks the clerk's view right: managing the clerk would escalate
    with pytest.raises(NotPermitted):
        world.service.regenerate_code(as_admin, CLERK)
    # and never acts on the principal user, nor on themselves
    with pytest.raises(NotPermitted):
        world.service.unblock(as_admin, BOSS)
    with pytest.raises(NotPermitted):
        world.service.regenerate_code(as_admin, admin)
    # the principal user may; a missing user of the own subscription is reported as such
    code = world.service.regenerate_code(world.boss, CLERK)
    assert world.codes.login(CLIENT, "02", code.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    with pytest.raises(UnknownAccount):
        world.service.unblock(world.boss, Principal.parse(CLIENT, "99"))
    # another subscription gets the same refusal whether the target exists or not
    world.service.open_subscription(BACK_OFFICE, ACCOUNTANT)
    outsider = _session(world, ACCOUNTANT)
    for target in (CLERK, Principal.parse(CLIENT, "99")):
        with pytest.raises(NotPermitted, match="may not administer"):
            world.service.regenerate_code(outsider, target)
    # portal users never reach the back-office path of the code service
    with pytest.raises(NotPermitted):
        world.codes.regenerate_code(BOSS, CLERK)  # type: ignore[arg-type]


def test_unblock_lifts_a_block_and_is_audited(world: World) -> None:
    world.service.add_user(world.boss, CLERK, Role.USER, Rights())
    for _ in range(3):
        world.codes.login(CLIENT, "02", "50381234")
    assert world.store.get_lockout(CLERK).value.blocked_until is not None
    world.service.unblock(world.boss, CLERK)
    assert world.store.get_lockout(CLERK).value.failures == 0
    assert world.store.get_lockout(CLERK).value.blocked_until is None
    last = list(world.store.audit_log())[-1].event
    assert (last.action, last.actor, last.subject) == ("lockout.unblock", BOSS.key, CLERK.key)


def test_changes_need_a_live_session(world: World) -> None:
    with pytest.raises(NotAuthenticated):
        world.service.add_theme("no-such-session", Theme("tax"))
    world.clock.advance(timedelta(minutes=6))  # idle timeout of the psd2-default policy
    with pytest.raises(StepUpNeeded) as refused:
        world.service.add_theme(world.boss, Theme("tax"))
    assert "session_idle" in refused.value.decision.explain()  # type: ignore[attr-defined]


def test_a_code_only_session_must_step_up(world: World) -> None:
    weak = _session(world, BOSS, "confidential_code")
    with pytest.raises(StepUpNeeded) as refused:
        world.service.add_theme(weak, Theme("tax"))
    decision = refused.value.decision
    assert isinstance(decision, StepUpRequired)
    assert "entitlements_management" in decision.explain()
    assert decision.www_authenticate().startswith('Bearer error="insufficient_user_authentication"')
    sub = world.store.get_subscription(ACME_CLIENT)
    assert sub is not None
    assert Theme("tax") not in sub.value.themes  # nothing applied


def test_every_change_touches_the_session(world: World) -> None:
    before = world.store.get_session(world.boss)
    assert before is not None
    world.clock.advance(timedelta(minutes=1))
    world.service.add_theme(world.boss, Theme("tax"))
    after = world.store.get_session(world.boss)
    assert after is not None
    assert after.version == before.version + 1
    assert after.value.last_activity == world.clock.now()


def test_every_change_is_audited_and_the_chain_verifies(world: World) -> None:
    world.service.add_theme(world.boss, Theme("tax"))
    world.service.switch_delivery(world.boss, digital=False)
    actions = [e.event.action for e in world.store.audit_log()]
    assert actions[:2] == ["subscription.open", "code.issue"]
    assert "company.add" in actions
    assert "theme.add" in actions
    assert actions[-1] == "subscription.delivery"
    assert verify_audit_chains(world.store.audit_key, world.store).total == len(actions)


def test_concurrent_right_changes_all_apply_exactly_once(world: World) -> None:
    users = [Principal.parse(CLIENT, f"{n:02d}") for n in range(10, 18)]
    errors: list[BaseException] = []

    def add(user: Principal) -> None:
        try:
            world.service.add_user(world.boss, user, Role.USER, Rights())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sub = world.store.get_subscription(ACME_CLIENT)
    assert sub is not None
    assert set(users) <= set(sub.value.rights)
    assert [e.event.action for e in world.store.audit_log()].count("user.add") == len(users)


class _RaceBeforeNextCommit(MemoryStore):
    """The in-memory store, running ``race`` just before the next commit (once)."""

    race: Callable[[], object] | None = None

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        race, self.race = self.race, None
        if race is not None:
            race()
        super().commit(changes, events)


def test_two_concurrent_demotions_cannot_remove_the_last_administrators() -> None:
    """Write skew: each demotion alone keeps an administrator; both together would not.
    Every change writes the subscription row, so the second one is judged again."""
    world = World()
    store = _RaceBeforeNextCommit()
    service = EntitlementService(
        store,
        world.hasher,
        company_proofs=world.proofs,
        clock=world.clock,
    )
    service.open_subscription(BACK_OFFICE, BOSS)
    pu_session = _session_in(store, world.clock, BOSS)
    admins = [Principal.parse(CLIENT, n) for n in ("05", "06")]
    for admin_ in admins:
        service.add_user(pu_session, admin_, Role.ADMINISTRATOR, Rights.everything())
    # the principal user's account is disabled (for instance by the bank): two admins remain
    boss = store.get_account(BOSS)
    assert boss is not None
    store.commit(
        [PutAccount(BOSS, boss.version, replace(boss.value, status=AccountStatus.DISABLED))], []
    )
    first, second = (_session_in(store, world.clock, a) for a in admins)
    store.race = lambda: service.set_role(second, admins[0], Role.USER)
    with pytest.raises(NotPermitted):  # judged again after the race: 05 is no longer admin
        service.set_role(first, admins[1], Role.USER)
    roles = [store.get_account(a) for a in admins]
    assert [r.value.role for r in roles if r is not None] == [Role.USER, Role.ADMINISTRATOR]


def _session_in(store: MemoryStore, clock: FixedClock, who: Principal) -> str:
    opened = OpenSession(open_session(who, "web", ("cap_identify",), clock.now()))
    store.commit([opened], [])
    return opened.session_id
