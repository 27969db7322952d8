"""Recovery codes: entropy, shown once, stored hashed, single use, never strong."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import ConfigurationError, InvalidCode
from securebox_auth.factors.methods import PASSKEY_NO_UV, RECOVERY_CODE, TOTP, is_strong
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.recovery import (
    RecoveryCodeRules,
    RecoveryFailure,
    RecoverySet,
    generate_recovery_codes,
    normalise_recovery_code,
    verify_recovery_code,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.model import AcrLevels
from securebox_auth.policy.session import open_session, session_acr
from tests.factors.race import Cell, commit_loop, race
from tests.support import NOW, CountingPasswordHasher

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
LOCK = LockoutRules()


def make(
    hasher: Argon2CodeHasher, keyring: StaticKeyring, count: int = 10
) -> tuple[tuple[str, ...], RecoverySet]:
    shown, stored, event = generate_recovery_codes(
        P, now=NOW, hasher=hasher, keys=keyring, rules=RecoveryCodeRules(count=count)
    )
    assert event.action == "recovery.generate"
    assert dict(event.details)["bits"] == "80"
    return shown.reveal(), stored


def test_generation(hasher: Argon2CodeHasher, keyring: StaticKeyring) -> None:
    shown, stored, _ = generate_recovery_codes(P, now=NOW, hasher=hasher, keys=keyring)
    codes = shown.reveal()
    assert len(codes) == len(stored.codes) == 10 == stored.remaining
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
        assert code not in repr(shown)
        assert code not in repr(stored)
        assert all(code.replace("-", "") not in c.hash for c in stored.codes)
    assert RecoveryCodeRules().bits >= 64
    with pytest.raises(ConfigurationError):
        RecoveryCodeRules(length=12)


def test_a_code_works_once_and_is_never_strong(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    codes, stored = make(hasher, keyring)
    verdict = verify_recovery_code(
        stored,
        LockoutState(),
        P,
        codes[3].lower(),
        now=NOW,
        hasher=hasher,
        keys=keyring,
        lockout_rules=LOCK,
    )
    assert verdict.ok
    assert verdict.method is RECOVERY_CODE
    assert verdict.notify_user
    assert verdict.recovery is not None
    assert verdict.recovery.remaining == 9
    assert verdict.events[0].action == "recovery.recovery_code"
    again = verify_recovery_code(
        verdict.recovery,
        LockoutState(),
        P,
        codes[3],
        now=NOW,
        hasher=hasher,
        keys=keyring,
        lockout_rules=LOCK,
    )
    assert again.reason is RecoveryFailure.ALREADY_USED
    assert again.lockout.failures == 1
    # never strong: alone, or with another single factor
    assert not is_strong([RECOVERY_CODE])
    assert not is_strong([RECOVERY_CODE, TOTP])
    assert not is_strong([RECOVERY_CODE, PASSKEY_NO_UV])
    session = open_session(P, "web", ["recovery_code"], NOW)
    assert session_acr(session, AcrLevels()) == AcrLevels().simple


def test_codes_are_bound_to_their_principal(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    codes, stored = make(hasher, keyring)
    verdict = verify_recovery_code(
        stored,
        LockoutState(),
        OTHER,
        codes[0],
        now=NOW,
        hasher=hasher,
        keys=keyring,
        lockout_rules=LOCK,
    )
    assert verdict.reason is RecoveryFailure.WRONG_CODE


def test_typing_mistakes_are_forgiven() -> None:
    rules = RecoveryCodeRules()
    assert normalise_recovery_code(" abcd-efgh-jkmn-pq0o ", rules) == "ABCDEFGHJKMNPQ00"
    assert normalise_recovery_code("il11-0000-0000-0000", rules) == "1111000000000000"
    for bad in ("ABCD-EFGH", "ABCD-EFGH-JKMN-PQRU", 1234, "É" * 16):
        with pytest.raises(InvalidCode):
            normalise_recovery_code(bad, rules)


def test_one_argon2_verification_per_attempt(
    keyring: StaticKeyring, counted: tuple[Argon2CodeHasher, CountingPasswordHasher]
) -> None:
    hasher, counter = counted
    codes, stored = make(hasher, keyring, count=20)
    for attempt in (codes[19], "0000-0000-0000-0000", codes[19]):
        before = counter.verifications
        verify_recovery_code(
            stored,
            LockoutState(),
            P,
            attempt,
            now=NOW,
            hasher=hasher,
            keys=keyring,
            lockout_rules=LOCK,
        )
        assert counter.verifications - before == 1
    before = counter.verifications
    none = verify_recovery_code(
        None, LockoutState(), P, codes[0], now=NOW, hasher=hasher, keys=keyring, lockout_rules=LOCK
    )
    assert none.reason is RecoveryFailure.NO_CODES
    assert counter.verifications - before == 1


def test_failures_share_the_lockout_and_block(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    codes, stored = make(hasher, keyring)
    verdict = verify_recovery_code(
        stored,
        LockoutState(failures=4),
        P,
        "0000-0000-0000-0000",
        now=NOW,
        hasher=hasher,
        keys=keyring,
        lockout_rules=LOCK,
    )
    assert verdict.outcome is Outcome.BLOCKED
    refused = verify_recovery_code(
        stored,
        verdict.lockout,
        P,
        codes[0],
        now=NOW + timedelta(minutes=1),
        hasher=hasher,
        keys=keyring,
        lockout_rules=LOCK,
    )
    assert refused.outcome is Outcome.BLOCKED
    assert refused.recovery == stored


def test_running_low(hasher: Argon2CodeHasher, keyring: StaticKeyring) -> None:
    codes, stored = make(hasher, keyring, count=4)
    state: RecoverySet | None = stored
    lows = []
    for code in codes:
        verdict = verify_recovery_code(
            state, LockoutState(), P, code, now=NOW, hasher=hasher, keys=keyring, lockout_rules=LOCK
        )
        state = verdict.recovery
        lows.append(verdict.running_low)
    assert lows == [True, True, True, True]
    assert state is not None
    assert state.remaining == 0


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8))
def test_property_each_code_is_accepted_at_most_once(
    hasher: Argon2CodeHasher, keyring: StaticKeyring, order: list[int]
) -> None:
    codes, stored = make(hasher, keyring, count=5)
    state: RecoverySet | None = stored
    accepted: list[int] = []
    for index in order:
        verdict = verify_recovery_code(
            state,
            LockoutState(),
            P,
            codes[index],
            now=NOW,
            hasher=hasher,
            keys=keyring,
            lockout_rules=LOCK,
        )
        state = verdict.recovery
        if verdict.ok:
            accepted.append(index)
    assert sorted(accepted) == sorted(set(order))


def test_concurrent_use_of_one_code_succeeds_once(
    hasher: Argon2CodeHasher, keyring: StaticKeyring
) -> None:
    codes, stored = make(hasher, keyring)
    cell: Cell[tuple[RecoverySet | None, LockoutState]] = Cell((stored, LockoutState()))

    def decide(
        state: tuple[RecoverySet | None, LockoutState],
    ) -> tuple[bool, tuple[RecoverySet | None, LockoutState]]:
        v = verify_recovery_code(
            state[0],
            state[1],
            P,
            codes[0],
            now=NOW,
            hasher=hasher,
            keys=keyring,
            lockout_rules=LockoutRules(max_failures=100),
        )
        return v.ok, (v.recovery, v.lockout)

    assert race(6, lambda: commit_loop(cell, decide)) == 1
