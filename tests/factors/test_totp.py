"""TOTP: RFC 6238 and RFC 4226 vectors, enrolment, the window, replay, lockout."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, InvalidCode, InvalidTime
from securebox_auth.factors.methods import TOTP
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.totp import (
    TotpCredential,
    TotpFailure,
    TotpRules,
    code_at,
    confirm_totp,
    enrol_totp,
    verify_totp,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from tests.factors.race import Cell, commit_loop, race
from tests.support import NOW
from tests.test_qr import decode_svg_matrix

# "123456" in full-width digits: str.isdigit() accepts them, the verifiers must not.
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "123456")
P = Principal.parse("123456789", "01")
RULES = LockoutRules()
SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = b"1234567890" * 6 + b"1234"

# RFC 6238 appendix B: (time, SHA1, SHA256, SHA512), 8 digits.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226 appendix D: HOTP values for counters 0..9 with the SHA1 key, 6 digits.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


def credential(key: bytes = SHA1_KEY, algorithm: str = "SHA1", digits: int = 6) -> TotpCredential:
    rules = TotpRules(digits=digits, algorithm=algorithm)
    return enrol_totp(P, now=NOW, issuer="Bank", rules=rules, secret=key).credential


def confirmed(now: datetime = NOW) -> TotpCredential:
    pending = enrol_totp(P, now=now, issuer="Bank").credential
    verdict = confirm_totp(
        pending,
        LockoutState(),
        P,
        code_at(pending, now - timedelta(seconds=60)),
        now=now,
        lockout_rules=RULES,
        rules=TotpRules(window=2),
    )
    assert verdict.ok
    assert verdict.credential is not None
    return verdict.credential


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    moment = datetime.fromtimestamp(at, UTC)
    assert code_at(credential(SHA1_KEY, "SHA1", 8), moment) == sha1
    assert code_at(credential(SHA256_KEY, "SHA256", 8), moment) == sha256
    assert code_at(credential(SHA512_KEY, "SHA512", 8), moment) == sha512


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_rfc4226_hotp_vectors(counter: int, expected: str) -> None:
    # TOTP is HOTP of the time step: step `counter` starts at counter * 30 seconds.
    assert code_at(credential(), datetime.fromtimestamp(counter * 30, UTC)) == expected


def test_rfc6238_vector_verifies_through_the_verifier() -> None:
    cred = credential(SHA1_KEY, "SHA1", 8)
    at = datetime.fromtimestamp(1111111109, UTC)
    verdict = confirm_totp(cred, LockoutState(), P, "07081804", now=at, lockout_rules=RULES)
    assert verdict.ok
    assert verdict.credential is not None
    assert verdict.credential.last_step == 1111111109 // 30


def test_enrolment_secret_is_random_and_at_least_160_bits() -> None:
    first = enrol_totp(P, now=NOW, issuer="Bank")
    second = enrol_totp(P, now=NOW, issuer="Bank")
    assert first.secret() != second.secret()
    assert len(base64.b32decode(first.secret() + "=" * (-len(first.secret()) % 8))) >= 20
    assert first.secret() not in repr(first)
    assert first.secret() not in repr(first.credential)
    assert first.credential.confirmed_at is None
    with pytest.raises(ConfigurationError):
        TotpRules(secret_bytes=16)


def test_provisioning_uri_is_what_authenticator_apps_read() -> None:
    enrolment = enrol_totp(P, now=NOW, issuer="Bank", label="jeanne@123456789")
    uri = enrolment.uri()
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert query["secret"] == [enrolment.secret()]
    assert query["issuer"] == ["Bank"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]
    # pyotp parses it back to the same generator
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.at(NOW) == code_at(enrolment.credential, NOW)


def test_qr_code_reads_back_as_the_uri() -> None:
    enrolment = enrol_totp(P, now=NOW, issuer="Bank")
    svg = enrolment.qr_svg()
    assert svg.startswith("<svg")
    assert "TOTP enrolment" in svg
    assert decode_svg_matrix(svg) == enrolment.uri()


def test_confirmation_then_login() -> None:
    enrolment = enrol_totp(P, now=NOW, issuer="Bank")
    pending = enrolment.credential
    refused = verify_totp(
        pending, LockoutState(), P, code_at(pending, NOW), now=NOW, lockout_rules=RULES
    )
    assert refused.reason is TotpFailure.NOT_CONFIRMED
    done = confirm_totp(
        pending, LockoutState(), P, code_at(pending, NOW), now=NOW, lockout_rules=RULES
    )
    assert done.ok
    assert done.method is TOTP
    assert done.credential is not None
    assert done.credential.confirmed_at == NOW
    later = NOW + timedelta(seconds=30)
    login = verify_totp(
        done.credential, LockoutState(), P, code_at(pending, later), now=later, lockout_rules=RULES
    )
    assert login.ok
    again = confirm_totp(
        login.credential,
        LockoutState(),
        P,
        code_at(pending, later + timedelta(seconds=30)),
        now=later + timedelta(seconds=30),
        lockout_rules=RULES,
    )
    assert again.reason is TotpFailure.ALREADY_CONFIRMED


def test_the_same_code_is_never_accepted_twice() -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=1)
    code = code_at(cred, now)
    first = verify_totp(cred, LockoutState(), P, code, now=now, lockout_rules=RULES)
    assert first.ok
    assert first.credential is not None
    for later in (now, now + timedelta(seconds=10), now + timedelta(seconds=30)):
        replay = verify_totp(
            first.credential, first.lockout, P, code, now=later, lockout_rules=RULES
        )
        assert replay.outcome is Outcome.REJECTED
        assert replay.credential == first.credential
    # an older code (previous step) after a newer one is refused too (RFC 6238 5.2)
    older = code_at(cred, now - timedelta(seconds=30))
    assert verify_totp(
        first.credential, LockoutState(), P, older, now=now, lockout_rules=RULES
    ).reason in (
        TotpFailure.REPLAY,
        TotpFailure.WRONG_CODE,
    )


@pytest.mark.parametrize(
    ("offset", "window", "accepted"),
    [
        (-30, 1, True),
        (30, 1, True),
        (-60, 1, False),
        (60, 1, False),
        (-30, 0, False),
        (0, 0, True),
        (-60, 2, True),
        (90, 2, False),
    ],
)
def test_window(offset: int, window: int, accepted: bool) -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=5)
    code = code_at(cred, now + timedelta(seconds=offset))
    verdict = verify_totp(
        cred, LockoutState(), P, code, now=now, rules=TotpRules(window=window), lockout_rules=RULES
    )
    assert verdict.ok is accepted


def test_failures_count_on_the_shared_lockout_and_block() -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=1)
    right = code_at(cred, now)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    lockout = LockoutState(failures=3)  # three failures on other factors already
    verdict = verify_totp(cred, lockout, P, wrong, now=now, lockout_rules=RULES)
    assert verdict.reason is TotpFailure.WRONG_CODE
    assert verdict.lockout.failures == 4
    assert verdict.events[0].action == "login.totp"
    verdict = verify_totp(cred, verdict.lockout, P, wrong, now=now, lockout_rules=RULES)
    assert verdict.outcome is Outcome.BLOCKED
    refused = verify_totp(cred, verdict.lockout, P, right, now=now, lockout_rules=RULES)
    assert refused.outcome is Outcome.BLOCKED
    assert refused.lockout == verdict.lockout
    assert refused.credential == cred
    assert refused.events[0].outcome == "refused"


def test_unknown_principal_is_rejected_and_counted() -> None:
    verdict = verify_totp(
        None, LockoutState(), P, "123456", now=NOW, lockout_rules=RULES, path="step_up"
    )
    assert verdict.outcome is Outcome.REJECTED
    assert verdict.reason is TotpFailure.NOT_ENROLLED
    assert verdict.lockout.failures == 1
    assert verdict.events[0].action == "step_up.totp"


@pytest.mark.parametrize("code", ["12345", "123456789", "12a456", FULLWIDTH, 123456])
def test_malformed_codes_raise_before_anything_is_counted(code: object) -> None:
    with pytest.raises(InvalidCode):
        verify_totp(confirmed(), LockoutState(), P, code, now=NOW, lockout_rules=RULES)


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidTime):
        verify_totp(
            confirmed(), LockoutState(), P, "123456", now=datetime(2026, 1, 1), lockout_rules=RULES
        )


def test_rules_are_validated() -> None:
    for bad in ({"digits": 5}, {"period": 90}, {"window": 3}, {"algorithm": "MD5"}):
        with pytest.raises(ConfigurationError):
            TotpRules(**bad)
    with pytest.raises(ConfigurationError):
        TotpRules(algorithm="SHA1", allowed_algorithms=frozenset({"SHA256"}))


def test_the_verifier_does_not_read_the_clock() -> None:
    # A date far from the real one: only the `now` passed in decides (pyotp is the
    # authenticator application).
    cred = confirmed()
    future = datetime(2041, 6, 1, 12, 0, tzinfo=UTC)
    code = pyotp.TOTP(cred.secret).at(future)
    assert verify_totp(cred, LockoutState(), P, code, now=future, lockout_rules=RULES).ok


@given(
    offset=st.integers(min_value=0, max_value=10**6),
    resubmit=st.lists(st.integers(min_value=-90, max_value=90), min_size=1, max_size=5),
)
def test_property_a_code_accepted_once_is_never_accepted_again(
    offset: int, resubmit: list[int]
) -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=2, seconds=offset)
    code = code_at(cred, now)
    first = verify_totp(cred, LockoutState(), P, code, now=now, lockout_rules=RULES)
    assert first.ok
    state, lockout = first.credential, first.lockout
    for delta in resubmit:
        verdict = verify_totp(
            state, lockout, P, code, now=now + timedelta(seconds=delta), lockout_rules=RULES
        )
        assert not verdict.ok
        state, lockout = verdict.credential, LockoutState()


@given(code=st.from_regex(r"\A[0-9]{6}\Z"))
def test_property_a_wrong_code_never_passes_and_counts(code: str) -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=3)
    if code in {code_at(cred, now + timedelta(seconds=d)) for d in (-30, 0, 30)}:
        return
    verdict = verify_totp(cred, LockoutState(failures=1), P, code, now=now, lockout_rules=RULES)
    assert not verdict.ok
    assert verdict.lockout.failures == 2


def test_concurrent_submissions_of_one_code_succeed_once() -> None:
    cred = confirmed()
    now = NOW + timedelta(minutes=1)
    code = code_at(cred, now)
    cell: Cell[tuple[TotpCredential | None, LockoutState]] = Cell((cred, LockoutState()))

    def decide(
        state: tuple[TotpCredential | None, LockoutState],
    ) -> tuple[bool, tuple[TotpCredential | None, LockoutState]]:
        verdict = verify_totp(
            state[0], state[1], P, code, now=now, lockout_rules=LockoutRules(max_failures=100)
        )
        return verdict.ok, (verdict.credential, verdict.lockout)

    assert race(8, lambda: commit_loop(cell, decide)) == 1
    assert cell.value[1].failures == 7
