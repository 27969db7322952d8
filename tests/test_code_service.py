"""shell/code.py: the shell around the pure code functions, end to end.

Includes the adversarial enumeration test (unknown, disabled, locked and real principals
must be indistinguishable by result and by work done) and the concurrency tests (real
threads, and hypothesis-chosen interleavings of load / verify / commit).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import AccountStatus, Operator, Role
from securebox_auth.entitlements.model import Operation, Rights
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import (
    AccountExists,
    ConcurrentUpdate,
    InvalidCode,
    InvalidIdentifier,
    NotPermitted,
    PrincipalUserExists,
    UnknownAccount,
    WeakCode,
)
from securebox_auth.factors.code import (
    ChangeOutcome,
    CodeCredential,
    CodeOutcome,
    CodeVerdict,
    OneTimeCode,
    verify_code,
)
from securebox_auth.factors.methods import CONFIDENTIAL_CODE
from securebox_auth.identity import IdentifierFormat, Principal
from securebox_auth.lockout.rules import LockoutAlert, LockoutRules, LockoutState
from securebox_auth.policy.session import open_session
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService, LoginResult
from securebox_auth.stores.protocols import (
    Change,
    OpenSession,
    PutAccount,
    PutCode,
    PutLockout,
    PutSubscription,
    Versioned,
)
from tests.support import (
    BACK_OFFICE,
    CLIENT,
    NOW,
    OTHER_CLIENT,
    STRONG_CODES,
    WRONG_CODE,
    CountingPasswordHasher,
    CountingStore,
    counting_hasher,
    enrol,
)

PU = Principal.parse(CLIENT, "01")  # principal user
ADMIN = Principal.parse(CLIENT, "02")
ALICE = Principal.parse(CLIENT, "03")
BOB = Principal.parse(CLIENT, "04")
OTHER_PU = Principal.parse(OTHER_CLIENT, "01")
NOBODY = Principal.parse(CLIENT, "77")
CODES = {
    PU: STRONG_CODES[0],
    ADMIN: STRONG_CODES[1],
    ALICE: STRONG_CODES[2],
    BOB: STRONG_CODES[3],
    OTHER_PU: STRONG_CODES[4],
}
BLOCK = timedelta(minutes=15)


def _login(service: ConfidentialCodeService, who: Principal, code: str) -> LoginResult:
    return service.login(who.client_id.value, who.user_number.value, code)


def _grant(store: CountingStore, who: Principal, rights: Rights) -> None:
    sub = store.get_subscription(who.client_id)
    assert sub is not None
    store.commit(
        [PutSubscription(who.client_id, sub.version, sub.value.with_rights(who, rights))], []
    )


class Portal(ConfidentialCodeService):
    """The code service as a portal exposes it: the bank's back office acts directly, portal
    users act in a strong session through the entitlement service (which applies the
    policy's step-up for user management)."""

    def __init__(self, store: CountingStore, hasher: Argon2CodeHasher, clock: FixedClock) -> None:
        super().__init__(store, hasher, clock=clock)
        self.entitlements = EntitlementService(
            store,
            hasher,
            company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
            clock=clock,
        )

    def _session(self, who: Principal) -> str:
        opened = OpenSession(open_session(who, "web", ("cap_identify",), self.clock.now()))
        self.store.commit([opened], [])
        return opened.session_id

    def regenerate_code(self, actor: Principal | Operator, target: Principal) -> OneTimeCode:  # type: ignore[override,unused-ignore]
        if isinstance(actor, Operator):
            return super().regenerate_code(actor, target)
        return self.entitlements.regenerate_code(self._session(actor), target)

    def unblock(self, actor: Principal | Operator, target: Principal) -> None:  # type: ignore[override,unused-ignore]
        if isinstance(actor, Operator):
            super().unblock(actor, target)
        else:
            self.entitlements.unblock(self._session(actor), target)


@pytest.fixture
def world(
    service: ConfidentialCodeService,
    store: CountingStore,
    hasher: Argon2CodeHasher,
    clock: FixedClock,
) -> Portal:
    """Two subscriptions: a principal user, an administrator (who may manage users) and two
    users in the first; a principal user in the second. Everyone has changed their code."""
    service = Portal(store, hasher, clock)
    enrol(service, PU, CODES[PU], Role.PRINCIPAL_USER)
    enrol(service, ADMIN, CODES[ADMIN], Role.ADMINISTRATOR)
    enrol(service, ALICE, CODES[ALICE], Role.USER)
    enrol(service, BOB, CODES[BOB], Role.USER)
    enrol(service, OTHER_PU, CODES[OTHER_PU], Role.PRINCIPAL_USER)
    _grant(store, ADMIN, Rights(operations=frozenset({Operation.MANAGE_USERS})))
    return service


def _block(service: ConfidentialCodeService, who: Principal) -> LoginResult:
    result = _login(service, who, WRONG_CODE)
    while result.outcome is not CodeOutcome.BLOCKED:
        result = _login(service, who, WRONG_CODE)
    return result


# -- the happy path --------------------------------------------------------------------------


def test_first_login_requires_a_change_then_logs_in(
    service: ConfidentialCodeService, store: CountingStore
) -> None:
    one_time = service.create_account(BACK_OFFICE, ALICE, Role.USER)
    first = _login(service, ALICE, one_time.reveal())
    assert first.outcome is CodeOutcome.CHANGE_REQUIRED
    assert not first.authenticated
    assert first.principal == ALICE
    assert first.at == NOW
    assert first.method is CONFIDENTIAL_CODE

    changed = service.change_code(CLIENT, "03", one_time.reveal(), STRONG_CODES[2])
    assert changed.changed
    assert changed.outcome is ChangeOutcome.CHANGED

    second = _login(service, ALICE, STRONG_CODES[2])
    assert second.outcome is CodeOutcome.ACCEPTED
    assert second.authenticated
    assert second.blocked_until is None
    assert _login(service, ALICE, one_time.reveal()).outcome is CodeOutcome.REJECTED
    assert verify_audit_chains(store.audit_key, store).total == store.audit_count()


def test_typed_identifiers_are_normalised(service: ConfidentialCodeService) -> None:
    enrol(service, ALICE, STRONG_CODES[2])
    result = service.login(" 123 456 789 ", "0 3", STRONG_CODES[2])
    assert result.authenticated
    assert result.principal == ALICE


def test_create_account_twice_is_refused(service: ConfidentialCodeService) -> None:
    service.create_account(BACK_OFFICE, ALICE, Role.USER)
    with pytest.raises(AccountExists):
        service.create_account(BACK_OFFICE, ALICE, Role.ADMINISTRATOR)


def test_a_principal_user_is_made_only_with_the_subscription(
    service: ConfidentialCodeService, store: CountingStore
) -> None:
    """Issue 11: ``create_account(..., PRINCIPAL_USER)`` silently created a subscription, and
    accepted a second principal user in an existing one."""
    with pytest.raises(NotPermitted, match="made with the subscription"):
        service.create_account(BACK_OFFICE, PU, Role.PRINCIPAL_USER)
    assert store.get_subscription(PU.client_id) is None
    assert store.get_account(PU) is None

    one_time = service.create_subscription(BACK_OFFICE, PU)
    assert _login(service, PU, one_time.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    stored = store.get_account(PU)
    assert stored is not None
    assert stored.value.role is Role.PRINCIPAL_USER
    assert store.get_subscription(PU.client_id) is not None

    second = Principal.parse(CLIENT, "07")
    with pytest.raises(PrincipalUserExists) as refused:
        service.create_account(BACK_OFFICE, second, Role.PRINCIPAL_USER)
    assert refused.value.code == "principal_user_exists"
    assert isinstance(refused.value, AccountExists)
    with pytest.raises(AccountExists):
        service.create_subscription(BACK_OFFICE, second)  # the subscription exists
    with pytest.raises(NotPermitted):
        service.create_account(BACK_OFFICE, second, Role.THIRD_PARTY)
    with pytest.raises(NotPermitted):
        service.create_subscription(PU, second)  # type: ignore[arg-type]
    assert store.get_account(second) is None
    principal_users = [a for a in store.accounts_of(PU.client_id) if a.role is Role.PRINCIPAL_USER]
    assert [a.principal for a in principal_users] == [PU]


def test_rejected_login_says_nothing_more(world: Portal) -> None:
    result = _login(world, ALICE, WRONG_CODE)
    assert result.outcome is CodeOutcome.REJECTED
    assert result.method is None
    assert result.blocked_until is None
    assert result.alert is LockoutAlert.NONE
    assert not result.authenticated


def test_one_time_code_expires(service: ConfidentialCodeService, clock: FixedClock) -> None:
    one_time = service.create_account(BACK_OFFICE, ALICE, Role.USER)
    clock.advance(timedelta(hours=72) - timedelta(seconds=1))
    assert _login(service, ALICE, one_time.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    clock.advance(timedelta(seconds=1))
    assert _login(service, ALICE, one_time.reveal()).outcome is CodeOutcome.REJECTED
    changed = service.change_code(CLIENT, "03", one_time.reveal(), STRONG_CODES[2])
    assert changed.outcome is ChangeOutcome.REJECTED


# -- code changes ----------------------------------------------------------------------------


def test_weak_new_code_consumes_no_attempt(
    world: Portal, store: CountingStore, argon2_counter: CountingPasswordHasher
) -> None:
    before = store.get_lockout(ALICE)
    verifications = argon2_counter.verifications
    with pytest.raises(WeakCode) as exc:
        world.change_code(CLIENT, "03", WRONG_CODE, "25121990")
    assert exc.value.reasons == ("date",)
    assert store.get_lockout(ALICE) == before
    assert argon2_counter.verifications == verifications


def test_reused_code_is_a_weak_code(world: Portal, store: CountingStore) -> None:
    with pytest.raises(WeakCode) as exc:
        world.change_code(CLIENT, "03", CODES[ALICE], CODES[ALICE])
    assert exc.value.reasons == ("previous_code",)
    code = store.get_code(ALICE)
    assert code is not None
    assert world.hasher.verify(code.value.hash, ALICE, CODES[ALICE])


def test_wrong_current_code_counts_towards_the_lockout(world: Portal, store: CountingStore) -> None:
    for _ in range(4):
        result = world.change_code(CLIENT, "03", WRONG_CODE, STRONG_CODES[5])
        assert result.outcome is ChangeOutcome.REJECTED
        assert not result.changed
    assert store.get_lockout(ALICE).value.failures == 4
    # login and code change share one counter: the fifth failure blocks, whatever the path
    assert _login(world, ALICE, WRONG_CODE).outcome is CodeOutcome.BLOCKED
    blocked = world.change_code(CLIENT, "03", CODES[ALICE], STRONG_CODES[5])
    assert blocked.outcome is ChangeOutcome.BLOCKED
    assert blocked.blocked_until == NOW + BLOCK


# -- lockout ----------------------------------------------------------------------------------


def test_lockout_after_five_wrong_codes(
    world: Portal, clock: FixedClock, argon2_counter: CountingPasswordHasher
) -> None:
    outcomes = [_login(world, ALICE, WRONG_CODE) for _ in range(5)]
    assert [r.outcome for r in outcomes] == [CodeOutcome.REJECTED] * 4 + [CodeOutcome.BLOCKED]
    assert outcomes[-1].blocked_until == NOW + BLOCK
    assert outcomes[-1].alert is LockoutAlert.TEMPORARILY_BLOCKED
    # the right code is refused while blocked, without any hashing
    verifications = argon2_counter.verifications
    refused = _login(world, ALICE, CODES[ALICE])
    assert refused.outcome is CodeOutcome.BLOCKED
    assert refused.alert is LockoutAlert.NONE
    assert argon2_counter.verifications == verifications
    clock.advance(BLOCK - timedelta(seconds=1))
    assert _login(world, ALICE, CODES[ALICE]).outcome is CodeOutcome.BLOCKED
    clock.advance(timedelta(seconds=1))
    assert _login(world, ALICE, CODES[ALICE]).outcome is CodeOutcome.ACCEPTED


def test_permanent_block_needs_an_administrator(
    store: CountingStore, hasher: Argon2CodeHasher, clock: FixedClock
) -> None:
    service = ConfidentialCodeService(
        store, hasher, clock=clock, lockout_rules=LockoutRules(temporary_block=None)
    )
    enrol(service, ALICE, CODES[ALICE])
    blocked = _block(service, ALICE)
    assert blocked.alert is LockoutAlert.PERMANENTLY_BLOCKED
    assert blocked.blocked_until is None
    clock.advance(timedelta(days=365))
    assert _login(service, ALICE, CODES[ALICE]).outcome is CodeOutcome.BLOCKED
    service.unblock(BACK_OFFICE, ALICE)
    assert _login(service, ALICE, CODES[ALICE]).authenticated


def test_unblock_by_administrator(world: Portal, store: CountingStore) -> None:
    _block(world, ALICE)
    world.unblock(ADMIN, ALICE)
    assert store.get_lockout(ALICE).value == LockoutState()
    assert _login(world, ALICE, CODES[ALICE]).authenticated
    unblocks = [s.event for s in store.audit_log() if s.event.action == "lockout.unblock"]
    assert len(unblocks) == 1
    assert unblocks[0].actor == ADMIN.key
    assert unblocks[0].subject == ALICE.key
    assert dict(unblocks[0].details)["was"] == "temporary"


def test_regenerate_by_administrator(world: Portal, store: CountingStore) -> None:
    _block(world, ALICE)
    one_time = world.regenerate_code(ADMIN, ALICE)
    assert one_time.reveal() != CODES[ALICE]
    # the block is lifted and the old code no longer works
    assert store.get_lockout(ALICE).value == LockoutState()
    assert _login(world, ALICE, CODES[ALICE]).outcome is CodeOutcome.REJECTED
    first = _login(world, ALICE, one_time.reveal())
    assert first.outcome is CodeOutcome.CHANGE_REQUIRED
    assert not first.authenticated
    # the previous code is in the history: it may not be chosen again
    with pytest.raises(WeakCode):
        world.change_code(CLIENT, "03", one_time.reveal(), CODES[ALICE])
    assert world.change_code(CLIENT, "03", one_time.reveal(), STRONG_CODES[6]).changed
    assert _login(world, ALICE, STRONG_CODES[6]).authenticated
    issued = [s.event for s in store.audit_log() if s.event.action == "code.issue"]
    assert issued[-1].actor == ADMIN.key
    assert issued[-1].subject == ALICE.key


def test_regenerate_by_the_back_office(world: Portal) -> None:
    one_time = world.regenerate_code(BACK_OFFICE, PU)
    assert _login(world, PU, one_time.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    assert _login(world, PU, CODES[PU]).outcome is CodeOutcome.REJECTED


# -- who may administer whom -----------------------------------------------------------------


def test_principal_user_may_regenerate_an_administrators_code(
    world: Portal,
) -> None:
    one_time = world.regenerate_code(PU, ADMIN)
    assert _login(world, ADMIN, one_time.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED


def test_administrator_may_not_touch_the_principal_user(
    world: Portal, store: CountingStore
) -> None:
    _block(world, PU)
    lockout, code = store.get_lockout(PU), store.get_code(PU)
    with pytest.raises(NotPermitted):
        world.regenerate_code(ADMIN, PU)
    with pytest.raises(NotPermitted):
        world.unblock(ADMIN, PU)
    assert store.get_lockout(PU) == lockout
    assert store.get_code(PU) == code


@pytest.mark.parametrize("who", [PU, ADMIN, ALICE])
def test_nobody_regenerates_their_own_code(world: Portal, who: Principal) -> None:
    with pytest.raises(NotPermitted):
        world.regenerate_code(who, who)
    with pytest.raises(NotPermitted):
        world.unblock(who, who)


def test_a_plain_user_administers_nobody(world: Portal) -> None:
    with pytest.raises(NotPermitted):
        world.regenerate_code(ALICE, BOB)
    with pytest.raises(NotPermitted):
        world.unblock(ALICE, BOB)


def test_administrator_without_the_right_administers_nobody(
    world: Portal, store: CountingStore
) -> None:
    _grant(store, ADMIN, Rights())
    with pytest.raises(NotPermitted):
        world.regenerate_code(ADMIN, ALICE)


def test_a_disabled_or_unknown_actor_is_refused(world: Portal, store: CountingStore) -> None:
    with pytest.raises(NotPermitted):
        world.regenerate_code(NOBODY, ALICE)
    account = store.get_account(ADMIN)
    assert account is not None
    disabled = replace(account.value, status=AccountStatus.DISABLED)
    store.commit([PutAccount(ADMIN, account.version, disabled)], [])
    with pytest.raises(NotPermitted):
        world.regenerate_code(ADMIN, ALICE)


def test_another_subscription_learns_nothing(world: Portal, store: CountingStore) -> None:
    _block(world, ALICE)
    lockout, code = store.get_lockout(ALICE), store.get_code(ALICE)
    audit = store.audit_count()
    messages = []
    for target in (ALICE, PU, NOBODY, Principal.parse(CLIENT, "99")):
        for action in (world.regenerate_code, world.unblock):
            with pytest.raises(NotPermitted) as exc:
                action(OTHER_PU, target)
            messages.append((type(exc.value), str(exc.value)))
    assert len(set(messages)) == 1  # the same refusal whether the target exists or not
    assert store.get_lockout(ALICE) == lockout
    assert store.get_code(ALICE) == code
    assert store.audit_count() == audit


def test_unknown_target_in_ones_own_subscription(world: Portal) -> None:
    with pytest.raises(UnknownAccount):
        world.regenerate_code(ADMIN, NOBODY)
    with pytest.raises(UnknownAccount):
        world.unblock(BACK_OFFICE, NOBODY)
    with pytest.raises(UnknownAccount):
        world.regenerate_code(Operator("ops"), Principal.parse(OTHER_CLIENT, "55"))


# -- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "user", "code", "error"),
    [
        ("12345", "03", STRONG_CODES[2], InvalidIdentifier),
        ("12345678X", "03", STRONG_CODES[2], InvalidIdentifier),
        (None, "03", STRONG_CODES[2], InvalidIdentifier),
        (CLIENT, "", STRONG_CODES[2], InvalidIdentifier),
        (CLIENT, "03:1", STRONG_CODES[2], InvalidIdentifier),
        (CLIENT, 3, STRONG_CODES[2], InvalidIdentifier),
        (CLIENT, "03", "", InvalidCode),
        (CLIENT, "03", "4712 0938", InvalidCode),
        (CLIENT, "03", "4712093a", InvalidCode),
        (CLIENT, "03", 47120938, InvalidCode),
        (CLIENT, "03", None, InvalidCode),
        (CLIENT, "03", "1" * 33, InvalidCode),
    ],
)
def test_malformed_login_input_is_refused_before_any_work(
    world: Portal,
    store: CountingStore,
    argon2_counter: CountingPasswordHasher,
    client: object,
    user: object,
    code: object,
    error: type[Exception],
) -> None:
    commits, verifications = store.commits, argon2_counter.verifications
    with pytest.raises(error):
        world.login(client, user, code)
    with pytest.raises(error):
        world.change_code(client, user, code, STRONG_CODES[5])
    assert (store.commits, argon2_counter.verifications) == (commits, verifications)
    assert store.get_lockout(ALICE).value == LockoutState()


def test_malformed_new_code_is_refused(world: Portal) -> None:
    with pytest.raises(InvalidCode):
        world.change_code(CLIENT, "03", CODES[ALICE], "abc")


def test_service_uses_configured_identifier_formats(
    store: CountingStore, hasher: Argon2CodeHasher, clock: FixedClock
) -> None:
    fmt = IdentifierFormat(label="contract", pattern=r"[A-Z]{2}[0-9]{6}")
    service = ConfidentialCodeService(store, hasher, clock=clock, client_format=fmt)
    who = service.parse_principal("ab-123456", "1")
    assert who.key == "AB123456:1"
    with pytest.raises(InvalidIdentifier):
        service.login(CLIENT, "1", STRONG_CODES[0])


# -- enumeration: unknown, disabled, locked and real must look and cost the same -------------

Row = tuple[object, ...]


def _trace(
    service: ConfidentialCodeService,
    store: CountingStore,
    counter: CountingPasswordHasher,
    clock: FixedClock,
    who: Principal,
    code: str,
) -> list[Row]:
    """Seven attempts (the fifth blocks), then two more after the block expired."""
    rows: list[Row] = []
    for attempt in range(9):
        if attempt == 7:
            clock.advance(BLOCK)
        verifications, commits = counter.verifications, store.commits
        events_before = store.audit_count()
        result = _login(service, who, code)
        events = [s.event for s in store.audit_log()][events_before:]
        rows.append(
            (
                result.outcome,
                None if result.blocked_until is None else result.blocked_until - result.at,
                result.alert,
                result.method,
                result.authenticated,
                counter.verifications - verifications,
                store.commits - commits,
                tuple(
                    (
                        e.action,
                        e.outcome,
                        tuple(k for k, _ in e.details),
                        dict(e.details).get("failures"),
                    )
                    for e in events
                ),
            )
        )
    return rows


def test_enumeration_every_failure_looks_and_costs_the_same(
    world: Portal,
    store: CountingStore,
    argon2_counter: CountingPasswordHasher,
    clock: FixedClock,
) -> None:
    # a disabled account trying its own, right code
    account = store.get_account(BOB)
    assert account is not None
    store.commit(
        [PutAccount(BOB, account.version, replace(account.value, status=AccountStatus.DISABLED))],
        [],
    )
    # a user whose one-time code expired, trying that (right but expired) code
    pending = Principal.parse(CLIENT, "05")
    expired = world.create_account(BACK_OFFICE, pending, Role.USER)
    clock.advance(timedelta(hours=73))

    def trace(who: Principal, code: str) -> list[Row]:
        return _trace(world, store, argon2_counter, clock, who, code)

    traces = {
        "unknown client": trace(Principal.parse("555666777", "03"), WRONG_CODE),
        "unknown user number": trace(NOBODY, WRONG_CODE),
        "disabled account": trace(BOB, CODES[BOB]),
        "expired one-time code": trace(pending, expired.reveal()),
        "wrong code": trace(ALICE, WRONG_CODE),
    }
    reference = traces["wrong code"]
    for name, rows in traces.items():
        for attempt, (got, want) in enumerate(zip(rows, reference, strict=True), start=1):
            assert got == want, f"{name}, attempt {attempt}"

    # and the reference itself is what the rules say: one argon2 verification per counted
    # attempt, none while blocked, one commit per attempt
    assert [r[0] for r in reference] == (
        [CodeOutcome.REJECTED] * 4 + [CodeOutcome.BLOCKED] * 3 + [CodeOutcome.REJECTED] * 2
    )
    assert [r[5] for r in reference] == [1, 1, 1, 1, 1, 0, 0, 1, 1]
    assert [r[6] for r in reference] == [1] * 9
    assert reference[4][1] == BLOCK
    assert reference[5][1] == BLOCK  # blocked at the same moment: the same remaining time


@pytest.mark.parametrize("temporary_block", [BLOCK, None])
def test_enumeration_a_locked_user_looks_like_a_locked_nobody(
    store: CountingStore,
    hasher: Argon2CodeHasher,
    argon2_counter: CountingPasswordHasher,
    clock: FixedClock,
    temporary_block: timedelta | None,
) -> None:
    service = ConfidentialCodeService(
        store, hasher, clock=clock, lockout_rules=LockoutRules(temporary_block=temporary_block)
    )
    enrol(service, ALICE, CODES[ALICE])
    real, ghost = _block(service, ALICE), _block(service, NOBODY)
    assert (real.outcome, real.blocked_until, real.alert) == (
        ghost.outcome,
        ghost.blocked_until,
        ghost.alert,
    )

    def row(who: Principal, code: str) -> Row:
        verifications, commits = argon2_counter.verifications, store.commits
        result = _login(service, who, code)
        return (
            result.outcome,
            result.blocked_until,
            result.alert,
            result.method,
            argon2_counter.verifications - verifications,
            store.commits - commits,
        )

    clock.advance(timedelta(minutes=1))
    # even the right code of the real user gets the locked answer, for no hashing work
    assert row(ALICE, CODES[ALICE]) == row(NOBODY, CODES[ALICE]) == row(ALICE, WRONG_CODE)
    assert row(ALICE, CODES[ALICE])[4] == 0


# -- concurrency: real threads ----------------------------------------------------------------


@pytest.fixture
def fast_thread_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that logins interleave for real."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.usefixtures("fast_thread_switching")
@pytest.mark.parametrize(
    ("max_failures", "threads", "per_thread"),
    [(5, 8, 3), (100, 8, 12)],  # enough attempts to block; too few to block (counts only)
)
def test_threads_count_every_failure_exactly_once(
    store: CountingStore,
    hasher: Argon2CodeHasher,
    clock: FixedClock,
    max_failures: int,
    threads: int,
    per_thread: int,
) -> None:
    service = ConfidentialCodeService(
        store, hasher, clock=clock, lockout_rules=LockoutRules(max_failures=max_failures)
    )
    enrol(service, ALICE, CODES[ALICE])
    events_before = store.audit_count()
    start = threading.Barrier(threads)
    results: list[LoginResult] = []
    results_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                while True:
                    try:
                        result = _login(service, ALICE, WRONG_CODE)
                    except ConcurrentUpdate:  # nothing happened: the caller tries again
                        continue
                    break
                with results_lock:
                    results.append(result)
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors
    assert not any(thread.is_alive() for thread in pool)

    attempts = threads * per_thread
    counted = min(attempts, max_failures)
    blocked = attempts >= max_failures
    outcomes = Counter(r.outcome for r in results)
    assert outcomes[CodeOutcome.REJECTED] == counted - (1 if blocked else 0)
    assert outcomes[CodeOutcome.BLOCKED] == attempts - outcomes[CodeOutcome.REJECTED]
    alerts = [r.alert for r in results if r.alert is not LockoutAlert.NONE]
    assert alerts == ([LockoutAlert.TEMPORARILY_BLOCKED] if blocked else [])

    state = store.get_lockout(ALICE).value
    if blocked:
        assert (state.failures, state.temporary_blocks) == (0, 1)
        assert state.blocked_until == NOW + BLOCK
    else:
        assert state.failures == attempts

    events = [s.event for s in store.audit_log()][events_before:]
    failures = sorted(
        int(dict(e.details)["failures"])
        for e in events
        if e.action == "login.code" and e.outcome == "failure"
    )
    # every count from 1 to the block was reached by exactly one attempt: no attempt was
    # lost, and no two attempts consumed the same (in particular the last) attempt
    assert failures == list(range(1, counted + 1))
    assert sum(e.action == "lockout.blocked" for e in events) == (1 if blocked else 0)
    assert sum(e.outcome == "refused" for e in events) == attempts - counted
    assert verify_audit_chains(store.audit_key, store).total == store.audit_count()


class _RegenerateBeforeNextCommit(CountingStore):
    """The in-memory store, where an administrator regenerates a code just before the next
    commit: a login that already read (and verified) the old code commits after that."""

    def __init__(self) -> None:
        super().__init__()
        self.race: Callable[[], object] | None = None

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        race, self.race = self.race, None
        if race is not None:
            race()
        super().commit(changes, events)


def test_a_login_cannot_succeed_with_a_code_regenerated_meanwhile(
    hasher: Argon2CodeHasher, clock: FixedClock
) -> None:
    store = _RegenerateBeforeNextCommit()
    service = ConfidentialCodeService(store, hasher, clock=clock)
    enrol(service, ALICE, CODES[ALICE])
    fresh: list[str] = []
    store.race = lambda: fresh.append(service.regenerate_code(BACK_OFFICE, ALICE).reveal())
    result = _login(service, ALICE, CODES[ALICE])
    assert fresh  # the regeneration did happen between the read and the commit
    assert result.outcome is CodeOutcome.REJECTED
    assert _login(service, ALICE, fresh[0]).outcome is CodeOutcome.CHANGE_REQUIRED


# -- concurrency: every interleaving of load / verify / commit --------------------------------


@dataclass
class _Client:
    """One login as the service performs it, cut into steps hypothesis can interleave."""

    code: str
    phase: str = "load"
    read_at: int = 0
    lockout: Versioned[LockoutState] | None = None
    stored: Versioned[CodeCredential] | None = None
    verdict: CodeVerdict | None = None
    linearised_at: int = -1
    outcome: CodeOutcome | None = None
    conflicts: int = 0


INTERLEAVING_RULES = LockoutRules(max_failures=3)


@pytest.fixture(scope="module")
def interleaving_setup() -> tuple[Argon2CodeHasher, CountingPasswordHasher, str]:
    hasher, counter = counting_hasher(StaticKeyring.generate())
    return hasher, counter, hasher.hash(ALICE, CODES[ALICE])


@settings(max_examples=300)
@given(
    wrong=st.lists(st.booleans(), min_size=2, max_size=7),
    data=st.data(),
)
def test_interleavings_are_linearisable(
    interleaving_setup: tuple[Argon2CodeHasher, CountingPasswordHasher, str],
    wrong: list[bool],
    data: st.DataObject,
) -> None:
    hasher, _, stored_hash = interleaving_setup
    store = CountingStore()
    credential = CodeCredential(hash=stored_hash, set_at=NOW)
    store.commit([PutCode(ALICE, 0, credential)], [])
    clients = [_Client(WRONG_CODE if w else CODES[ALICE]) for w in wrong]
    committed: list[tuple[LockoutState, LockoutState]] = []

    step = 0
    while pending := [i for i, c in enumerate(clients) if c.phase != "done"]:
        step += 1
        client = clients[data.draw(st.sampled_from(pending), label="next client")]
        if client.phase == "load":
            client.lockout, client.stored = store.get_lockout(ALICE), store.get_code(ALICE)
            client.read_at, client.phase = step, "verify"
        elif client.phase == "verify":
            assert client.lockout is not None
            client.verdict = verify_code(
                client.stored.value if client.stored else None,
                client.lockout.value,
                ALICE,
                client.code,
                now=NOW,
                hasher=hasher,
                lockout_rules=INTERLEAVING_RULES,
            )
            client.phase = "commit"
        else:
            assert client.lockout is not None
            assert client.verdict is not None
            changes = []
            if client.verdict.lockout != client.lockout.value:
                changes.append(PutLockout(ALICE, client.lockout.version, client.verdict.lockout))
            try:
                store.commit(changes, client.verdict.events)
            except ConcurrentUpdate:
                client.conflicts += 1
                client.phase = "load"
                continue
            if changes:
                committed.append((client.lockout.value, client.verdict.lockout))
            # a write takes effect when it commits; a read-only answer when it was read
            client.linearised_at = step if changes else client.read_at
            client.outcome = client.verdict.outcome
            client.phase = "done"

    # replaying the logins one after another, in that order, gives the same answers and the
    # same final state: concurrency changed nothing
    state = LockoutState()
    for client in sorted(clients, key=lambda c: c.linearised_at):
        verdict = verify_code(
            credential,
            state,
            ALICE,
            client.code,
            now=NOW,
            hasher=hasher,
            lockout_rules=INTERLEAVING_RULES,
        )
        note(f"{client.code} -> {client.outcome} (sequential: {verdict.outcome})")
        assert verdict.outcome is client.outcome
        state = verdict.lockout
    assert store.get_lockout(ALICE).value == state

    # every committed failure adds exactly one to the count, and at most max_failures of
    # them are committed before a block (or a success) starts the count again
    series = 0
    for before, after in committed:
        if after == LockoutState():
            series = 0
            continue
        series += 1
        assert series <= INTERLEAVING_RULES.max_failures
        if after.blocked_until is not None or after.permanent:
            assert before.failures == INTERLEAVING_RULES.max_failures - 1
            series = 0
        else:
            assert after.failures == before.failures + 1
    # with wrong codes only, the result is exactly that of sequential failures
    if all(wrong):
        assert Counter(c.outcome for c in clients)[CodeOutcome.REJECTED] == min(
            len(clients), INTERLEAVING_RULES.max_failures - 1
        )
