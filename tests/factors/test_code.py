"""factors/code.py: pure verification, change and one-time codes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from argon2.exceptions import VerifyMismatchError

from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher, Argon2Parameters
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import InvalidCode, InvalidTime, WeakCode
from securebox_auth.factors.code import (
    ChangeOutcome,
    CodeCredential,
    CodeOutcome,
    FailureReason,
    OneTimeCode,
    change_code,
    issue_one_time_code,
    verify_code,
)
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    BlockStatus,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    block_status,
)
from tests.support import NOW, STRONG_CODES, WRONG_CODE, CountingPasswordHasher, counting_hasher

ALICE = Principal.parse("123456789", "01")
CODE = STRONG_CODES[0]
LOCKOUT = LockoutRules()
RULES = CodeRules()


def _credential(
    hasher: Argon2CodeHasher,
    code: str = CODE,
    *,
    must_change: bool = False,
    expires_at: datetime | None = None,
    history: tuple[str, ...] = (),
) -> CodeCredential:
    return CodeCredential(
        hash=hasher.hash(ALICE, code),
        set_at=NOW,
        must_change=must_change,
        expires_at=expires_at,
        history=history,
    )


# -- verify_code ------------------------------------------------------------------------


def test_right_code_is_accepted(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    verdict = verify_code(
        cred, LockoutState(), ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert verdict.outcome is CodeOutcome.ACCEPTED
    assert verdict.ok
    assert verdict.reason is None
    assert verdict.credential is cred
    assert verdict.lockout == LockoutState()
    assert [(e.action, e.outcome) for e in verdict.events] == [("login.code", "success")]


def test_success_resets_earlier_failures(hasher: Argon2CodeHasher) -> None:
    lockout = LockoutState(failures=4, temporary_blocks=2, last_failure_at=NOW)
    verdict = verify_code(
        _credential(hasher), lockout, ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert verdict.outcome is CodeOutcome.ACCEPTED
    assert verdict.lockout == LockoutState()


def test_must_change_gives_change_required(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher, must_change=True, expires_at=NOW + timedelta(hours=1))
    verdict = verify_code(
        cred, LockoutState(), ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert verdict.outcome is CodeOutcome.CHANGE_REQUIRED
    assert verdict.ok
    assert dict(verdict.events[0].details)["result"] == "change_required"


def test_wrong_code_is_rejected_and_counted(hasher: Argon2CodeHasher) -> None:
    verdict = verify_code(
        _credential(hasher),
        LockoutState(),
        ALICE,
        WRONG_CODE,
        now=NOW,
        hasher=hasher,
        lockout_rules=LOCKOUT,
    )
    assert verdict.outcome is CodeOutcome.REJECTED
    assert not verdict.ok
    assert verdict.reason is FailureReason.WRONG_CODE
    assert verdict.lockout.failures == 1
    (event,) = verdict.events
    assert event.outcome == "failure"
    assert dict(event.details) == {"reason": "wrong_code", "failures": "1"}


def test_fifth_failure_blocks(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    lockout = LockoutState()
    outcomes = []
    for _ in range(5):
        verdict = verify_code(
            cred, lockout, ALICE, WRONG_CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
        )
        outcomes.append(verdict.outcome)
        lockout = verdict.lockout
    assert outcomes == [CodeOutcome.REJECTED] * 4 + [CodeOutcome.BLOCKED]
    assert verdict.alert is LockoutAlert.TEMPORARILY_BLOCKED
    assert block_status(lockout, NOW) is BlockStatus.TEMPORARY
    assert [e.action for e in verdict.events] == ["login.code", "lockout.blocked"]
    assert dict(verdict.events[0].details)["failures"] == "5"


def test_blocked_principal_costs_no_hashing(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    cred = _credential(hasher)
    blocked = LockoutState(blocked_until=NOW + timedelta(minutes=1), temporary_blocks=1)
    for code in (CODE, WRONG_CODE):
        verdict = verify_code(
            cred, blocked, ALICE, code, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
        )
        assert verdict.outcome is CodeOutcome.BLOCKED
        assert verdict.reason is FailureReason.BLOCKED_TEMPORARILY
        assert verdict.lockout is blocked
        assert verdict.alert is LockoutAlert.NONE
        assert [e.outcome for e in verdict.events] == ["refused"]
    permanent = LockoutState(permanent=True)
    verdict = verify_code(
        None, permanent, ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert verdict.reason is FailureReason.BLOCKED_PERMANENTLY
    assert counter.verifications == 0


def test_unknown_principal_does_one_dummy_verification(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    verdict = verify_code(
        None, LockoutState(), ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert counter.verifications == 1
    assert verdict.outcome is CodeOutcome.REJECTED
    assert verdict.reason is FailureReason.UNKNOWN_PRINCIPAL
    assert verdict.lockout.failures == 1
    assert verdict.credential is None


def test_expired_one_time_code_is_rejected_and_counted(hasher: Argon2CodeHasher) -> None:
    expires = NOW + timedelta(hours=72)
    cred = _credential(hasher, must_change=True, expires_at=expires)
    before = verify_code(
        cred,
        LockoutState(),
        ALICE,
        CODE,
        now=expires - timedelta(seconds=1),
        hasher=hasher,
        lockout_rules=LOCKOUT,
    )
    assert before.outcome is CodeOutcome.CHANGE_REQUIRED
    at_expiry = verify_code(
        cred, LockoutState(), ALICE, CODE, now=expires, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert at_expiry.outcome is CodeOutcome.REJECTED
    assert at_expiry.reason is FailureReason.EXPIRED
    assert at_expiry.lockout.failures == 1


def test_rehash_on_success_when_parameters_change(keyring: StaticKeyring) -> None:
    old = Argon2CodeHasher(keyring, PROFILE_TESTING)
    cred = _credential(old)
    new = Argon2CodeHasher(keyring, Argon2Parameters(time_cost=2, memory_cost_kib=16))
    verdict = verify_code(
        cred, LockoutState(), ALICE, CODE, now=NOW, hasher=new, lockout_rules=LOCKOUT
    )
    assert verdict.outcome is CodeOutcome.ACCEPTED
    assert verdict.credential is not None
    assert verdict.credential.hash != cred.hash
    assert not new.needs_rehash(verdict.credential.hash)
    assert new.verify(verdict.credential.hash, ALICE, CODE)
    assert verdict.credential.set_at == cred.set_at
    assert dict(verdict.events[0].details)["rehashed"] == "true"


def test_no_rehash_when_not_needed(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    verdict = verify_code(
        cred, LockoutState(), ALICE, CODE, now=NOW, hasher=hasher, lockout_rules=LOCKOUT
    )
    assert verdict.credential is cred
    assert "rehashed" not in dict(verdict.events[0].details)


def test_no_rehash_on_failure(keyring: StaticKeyring) -> None:
    cred = _credential(Argon2CodeHasher(keyring, PROFILE_TESTING))
    new = Argon2CodeHasher(keyring, Argon2Parameters(time_cost=2, memory_cost_kib=16))
    verdict = verify_code(
        cred, LockoutState(), ALICE, WRONG_CODE, now=NOW, hasher=new, lockout_rules=LOCKOUT
    )
    assert verdict.credential is cred


def test_malformed_code_and_naive_time(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    with pytest.raises(InvalidCode):
        verify_code(
            cred, LockoutState(), ALICE, "12a4", now=NOW, hasher=hasher, lockout_rules=LOCKOUT
        )
    with pytest.raises(InvalidTime):
        verify_code(
            cred,
            LockoutState(),
            ALICE,
            CODE,
            now=NOW.replace(tzinfo=None),
            hasher=hasher,
            lockout_rules=LOCKOUT,
        )


def test_credential_repr_hides_the_hash(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher, history=(hasher.hash(ALICE, STRONG_CODES[1]),))
    assert "argon2" not in repr(cred)
    assert "sbx1" not in repr(cred)


# -- change_code -------------------------------------------------------------------------


def _change(
    cred: CodeCredential | None,
    current: str,
    new: str,
    hasher: Argon2CodeHasher,
    *,
    lockout: LockoutState | None = None,
    rules: CodeRules = RULES,
) -> tuple[ChangeOutcome, CodeCredential | None, LockoutState]:
    verdict = change_code(
        cred,
        lockout or LockoutState(),
        ALICE,
        current,
        new,
        now=NOW,
        hasher=hasher,
        rules=rules,
        lockout_rules=LOCKOUT,
    )
    return verdict.outcome, verdict.credential, verdict.lockout


def test_change_code(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher, must_change=True, expires_at=NOW + timedelta(hours=1))
    verdict = change_code(
        cred,
        LockoutState(failures=2),
        ALICE,
        CODE,
        STRONG_CODES[1],
        now=NOW + timedelta(minutes=1),
        hasher=hasher,
        rules=RULES,
        lockout_rules=LOCKOUT,
    )
    assert verdict.outcome is ChangeOutcome.CHANGED
    new = verdict.credential
    assert new is not None
    assert hasher.verify(new.hash, ALICE, STRONG_CODES[1])
    assert not hasher.verify(new.hash, ALICE, CODE)
    assert not new.must_change
    assert new.expires_at is None
    assert new.set_at == NOW + timedelta(minutes=1)
    assert new.history == (cred.hash,)
    assert verdict.lockout == LockoutState()
    (event,) = verdict.events
    assert (event.action, event.outcome) == ("code.change", "success")
    assert dict(event.details) == {"was_required": "true"}


def test_weak_new_code_consumes_no_attempt(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    cred = _credential(hasher)
    for weak in ("12345678", "11111111", "25121990", "12345", "12121212"):
        with pytest.raises(WeakCode):
            change_code(
                cred,
                LockoutState(failures=4),
                ALICE,
                WRONG_CODE,
                weak,
                now=NOW,
                hasher=hasher,
                rules=RULES,
                lockout_rules=LOCKOUT,
            )
    with pytest.raises(WeakCode) as exc:
        change_code(
            cred,
            LockoutState(),
            ALICE,
            CODE,
            "12301234",
            now=NOW,
            hasher=hasher,
            rules=RULES,
            lockout_rules=LOCKOUT,
        )
    assert "12301234" not in str(exc.value)
    # nothing was verified, so nothing could be learnt or counted
    assert counter.verifications == 0


def test_new_code_may_not_contain_the_identifiers(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    bob = Principal.parse("583920", "0417")
    cred = CodeCredential(hash=hasher.hash(bob, CODE), set_at=NOW)
    for new in ("58392047", "73041795"):
        with pytest.raises(WeakCode) as exc:
            change_code(
                cred,
                LockoutState(),
                bob,
                CODE,
                new,
                now=NOW,
                hasher=hasher,
                rules=RULES,
                lockout_rules=LOCKOUT,
            )
        assert exc.value.reasons == ("identifier",)
    assert counter.verifications == 0


def test_wrong_current_code_counts_a_failure(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    verdict = change_code(
        cred,
        LockoutState(failures=1),
        ALICE,
        WRONG_CODE,
        STRONG_CODES[1],
        now=NOW,
        hasher=hasher,
        rules=RULES,
        lockout_rules=LOCKOUT,
    )
    assert verdict.outcome is ChangeOutcome.REJECTED
    assert verdict.reason is FailureReason.WRONG_CODE
    assert verdict.lockout.failures == 2
    assert verdict.credential is cred
    assert [(e.action, e.outcome) for e in verdict.events] == [("code.change", "failure")]


def test_wrong_current_code_can_block(hasher: Argon2CodeHasher) -> None:
    outcome, _, lockout = _change(
        _credential(hasher), WRONG_CODE, STRONG_CODES[1], hasher, lockout=LockoutState(failures=4)
    )
    assert outcome is ChangeOutcome.BLOCKED
    assert block_status(lockout, NOW) is BlockStatus.TEMPORARY
    outcome, _, _ = _change(_credential(hasher), CODE, STRONG_CODES[1], hasher, lockout=lockout)
    assert outcome is ChangeOutcome.BLOCKED


def test_change_for_unknown_principal_is_rejected(hasher: Argon2CodeHasher) -> None:
    outcome, cred, lockout = _change(None, CODE, STRONG_CODES[1], hasher)
    assert outcome is ChangeOutcome.REJECTED
    assert cred is None
    assert lockout.failures == 1


def test_reusing_the_current_code_is_refused(hasher: Argon2CodeHasher) -> None:
    cred = _credential(hasher)
    verdict = change_code(
        cred,
        LockoutState(failures=3),
        ALICE,
        CODE,
        CODE,
        now=NOW,
        hasher=hasher,
        rules=RULES,
        lockout_rules=LOCKOUT,
    )
    assert verdict.outcome is ChangeOutcome.REUSED
    assert verdict.credential is cred
    # the current code was proven: the failures are reset, not counted
    assert verdict.lockout == LockoutState()
    assert dict(verdict.events[0].details) == {"reason": "previous_code"}


def test_history_is_capped_and_enforced(hasher: Argon2CodeHasher) -> None:
    rules = CodeRules(history=2)
    first, second, third, fourth = STRONG_CODES[:4]
    cred: CodeCredential | None = _credential(hasher, first)
    for current, new in ((first, second), (second, third), (third, fourth)):
        outcome, cred, _ = _change(cred, current, new, hasher, rules=rules)
        assert outcome is ChangeOutcome.CHANGED
        assert cred is not None
        assert len(cred.history) <= 2
    assert cred is not None
    assert len(cred.history) == 2
    # the current code (fourth) and the last two (third, second) are refused
    for reused in (fourth, third, second):
        outcome, kept, _ = _change(cred, fourth, reused, hasher, rules=rules)
        assert outcome is ChangeOutcome.REUSED
        assert kept is cred
    # the oldest one has left the history and is allowed again
    outcome, cred, _ = _change(cred, fourth, first, hasher, rules=rules)
    assert outcome is ChangeOutcome.CHANGED


def test_zero_history_still_refuses_the_current_code(hasher: Argon2CodeHasher) -> None:
    rules = CodeRules(history=0)
    cred = _credential(hasher)
    outcome, _, _ = _change(cred, CODE, CODE, hasher, rules=rules)
    assert outcome is ChangeOutcome.REUSED
    outcome, changed, _ = _change(cred, CODE, STRONG_CODES[1], hasher, rules=rules)
    assert outcome is ChangeOutcome.CHANGED
    assert changed is not None
    assert changed.history == ()


# -- one-time codes ----------------------------------------------------------------------


def test_issue_one_time_code(hasher: Argon2CodeHasher) -> None:
    code, cred, event = issue_one_time_code(
        None, ALICE, actor="operator:ops", now=NOW, hasher=hasher, rules=RULES
    )
    value = code.reveal()
    assert len(value) == RULES.length
    assert cred.must_change
    assert cred.expires_at == NOW + RULES.one_time_code_lifetime
    assert cred.set_at == NOW
    assert cred.history == ()
    assert hasher.verify(cred.hash, ALICE, value)
    assert (event.action, event.actor, event.subject) == ("code.issue", "operator:ops", ALICE.key)
    assert value not in event.canonical().decode()


def test_one_time_code_keeps_the_previous_codes_in_history(hasher: Argon2CodeHasher) -> None:
    rules = CodeRules(history=2)
    previous = _credential(hasher, history=("h1", "h2"))
    _, cred, _ = issue_one_time_code(
        previous, ALICE, actor="a", now=NOW, hasher=hasher, rules=rules
    )
    assert cred.history == (previous.hash, "h1")


def test_issue_with_a_chosen_code_checks_its_strength(hasher: Argon2CodeHasher) -> None:
    code, cred, _ = issue_one_time_code(
        None, ALICE, actor="a", now=NOW, hasher=hasher, rules=RULES, code=CODE
    )
    assert code.reveal() == CODE
    assert hasher.verify(cred.hash, ALICE, CODE)
    with pytest.raises(WeakCode):
        issue_one_time_code(
            None, ALICE, actor="a", now=NOW, hasher=hasher, rules=RULES, code="12345678"
        )


def test_issued_codes_avoid_the_identifiers(keyring: StaticKeyring) -> None:
    principal = Principal.parse("583920", "0417")
    hasher = Argon2CodeHasher(keyring, PROFILE_TESTING)
    for _ in range(30):
        code, _, _ = issue_one_time_code(
            None, principal, actor="a", now=NOW, hasher=hasher, rules=RULES
        )
        assert "583920" not in code.reveal()
        assert "0417" not in code.reveal()


def test_one_time_code_repr_hides_the_value() -> None:
    code = OneTimeCode(CODE)
    assert CODE not in repr(code)
    assert CODE not in str(code)
    assert CODE not in f"{code}"
    assert code.reveal() == CODE
    with pytest.raises(AttributeError):
        code.extra = 1  # type: ignore[attr-defined]


def test_counting_password_hasher_counts(keyring: StaticKeyring) -> None:
    # the instrument the enumeration tests rely on must itself work
    counter = CountingPasswordHasher()
    encoded = counter.hash("x")
    counter.verify(encoded, "x")
    with pytest.raises(VerifyMismatchError):
        counter.verify(encoded, "y")
    assert counter.verifications == 2
