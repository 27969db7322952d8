"""AccountRecovery on every store (memory, SQLite, PostgreSQL): a chosen code is checked
before the recovery is used up, keeps the lockout and the history, ends every session; a
one-time code must be changed at the next login; secret answers need the policy option,
are stored hashed, match up to case, accents and spaces, and cost the same for nobody."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.errors import FlowExpired, NotPermitted, WeakCode
from securebox_auth.factors.code import CodeOutcome
from securebox_auth.policy.sections import RecoveryRules
from securebox_auth.shell.account_recovery import AccountRecovery
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.records import sessions_not_before
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.factor_kinds import SECRET_ANSWERS
from securebox_auth.stores.protocols import AuthStore, PutAccount
from tests.shell.portal import CLIENT, CODE, MASTER, Phone, enrol_users, make_box, portal_policy
from tests.shell.portal import user as portal_user

NEW = "58301917"


def test_a_chosen_code(contract_store: AuthStore, clock: FixedClock) -> None:
    box = make_box(contract_store, clock, Phone())
    enrol_users(box, 1)
    who = portal_user(1)
    recovery = AccountRecovery(box)
    used: list[int] = []
    with pytest.raises(WeakCode):
        recovery.reset_code(who, "11111111", via="email", consume=lambda: used.append(1))
    with pytest.raises(WeakCode):
        recovery.reset_code(who, CODE, via="email", consume=lambda: used.append(1))
    assert used == []  # a refused code uses nothing
    assert not box.codes.login(CLIENT, "01", "69204718").authenticated
    failures = box.store.get_lockout(who).value.failures

    def refuse() -> None:
        raise FlowExpired("used by another request")

    with pytest.raises(FlowExpired):
        recovery.reset_code(who, NEW, via="email", consume=refuse)
    assert box.codes.login(CLIENT, "01", CODE).authenticated  # unchanged
    assert not box.codes.login(CLIENT, "01", "69204718").authenticated
    failures = box.store.get_lockout(who).value.failures
    recovery.reset_code(who, NEW, via="email", consume=lambda: used.append(1))
    assert used == [1]
    assert box.store.get_lockout(who).value.failures == failures  # lockout as it was
    assert sessions_not_before(box.store, who) is not None  # every session ended
    assert box.codes.login(CLIENT, "01", NEW).authenticated
    with pytest.raises(WeakCode):  # the old code is in the history
        recovery.reset_code(who, CODE, via="email")


def test_a_one_time_code(contract_store: AuthStore, clock: FixedClock) -> None:
    box = make_box(contract_store, clock, Phone())
    enrol_users(box, 1)
    code = AccountRecovery(box).issue_code(portal_user(1), via="card")
    assert box.codes.login(CLIENT, "01", CODE).outcome is CodeOutcome.REJECTED
    assert box.codes.login(CLIENT, "01", code.reveal()).outcome is CodeOutcome.CHANGE_REQUIRED
    assert "recovery.code_reset" in [e.event.action for e in box.audit_log()]


def test_unknown_accounts_cannot_be_recovered(contract_store: AuthStore, clock: FixedClock) -> None:
    box = make_box(contract_store, clock, Phone())
    with pytest.raises(NotPermitted):
        AccountRecovery(box).issue_code(portal_user(9), via="card")


def test_secret_answers(contract_store: AuthStore, clock: FixedClock) -> None:
    off = make_box(contract_store, clock, Phone())
    enrol_users(off, 1)
    who = portal_user(1)
    with pytest.raises(NotPermitted):
        AccountRecovery(off).set_answers(who, "Martin", {"a": "x", "b": "y"})
    policy = replace(portal_policy(), recovery=RecoveryRules(secret_questions=True))
    box = Securebox.from_policy(
        policy,
        store=contract_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        argon2=PROFILE_TESTING,
    )
    recovery = AccountRecovery(box)
    recovery.set_answers(who, "Martin", {"a": "Élodie", "b": "Rue des Lilas"})
    stored = box.store.get_factor_state(who, SECRET_ANSWERS, "default")
    assert stored is not None
    assert "lodie" not in str(stored.value)
    assert "Lilas" not in str(stored.value)
    assert recovery.name_matches(who, " martin ")
    assert not recovery.name_matches(who, "Dupont")
    assert not recovery.name_matches(portal_user(2), "Martin")
    assert recovery.check_answers(who, {"a": "elodie", "b": "RUE  des lilas"}, ("a", "b"))
    assert not recovery.check_answers(who, {"a": "elodie", "b": "rue"}, ("a", "b"))
    assert not recovery.check_answers(None, {"a": "elodie", "b": "rue des lilas"}, ("a", "b"))


def test_a_recovery_overtaken_by_a_change_of_the_account_is_refused(
    contract_store: AuthStore, clock: FixedClock
) -> None:
    """A recovery begun before every session was ended, or before the account was created
    (the number given to a new person since), sets no code (ADR 0069): the previous
    holder's recovery link cannot take the new person's account."""
    box = make_box(contract_store, clock, Phone())
    enrol_users(box, 2)
    who = portal_user(2)
    recovery = AccountRecovery(box)
    begun = clock.now()
    clock.advance(timedelta(minutes=1))
    box.end_all(who)
    with pytest.raises(FlowExpired, match="overtaken"):
        recovery.reset_code(who, NEW, via="email", begun_at=begun)
    with pytest.raises(FlowExpired, match="overtaken"):  # the same instant counts as before
        recovery.reset_code(who, NEW, via="email", begun_at=clock.now())
    assert box.codes.login(CLIENT, "02", CODE).authenticated
    # the number given to a new person after the recovery began
    clock.advance(timedelta(minutes=1))
    begun = clock.now()
    clock.advance(timedelta(minutes=1))
    account = box.store.get_account(who)
    assert account is not None
    recreated = replace(account.value, created_at=clock.now())
    box.store.commit([PutAccount(who, account.version, recreated)], [])
    with pytest.raises(FlowExpired, match="overtaken"):
        recovery.reset_code(who, NEW, via="email", begun_at=begun)
    clock.advance(timedelta(minutes=1))
    recovery.reset_code(who, NEW, via="email", begun_at=clock.now())  # a recovery of today
    assert box.codes.login(CLIENT, "02", NEW).authenticated
