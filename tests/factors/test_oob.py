"""Codes by SMS or e-mail: issue, single use, binding, expiry, throttles, lockout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.errors import ConfigurationError, InvalidCode
from securebox_auth.factors.methods import EMAIL_OTP, SMS_OTP, is_strong
from securebox_auth.factors.oob import (
    Channel,
    IssueResult,
    OobChallenge,
    OobFailure,
    OobRules,
    OobVerdict,
    SendLog,
    destination_key,
    issue_oob,
    verify_oob,
)
from securebox_auth.factors.outcome import Outcome
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Linking, Money, OperationRequest, Payment
from tests.factors.race import Cell, commit_loop, race
from tests.support import NOW, CountingPasswordHasher

# "123456" in full-width digits: str.isdigit() accepts them, the verifiers must not.
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "123456")
P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
RULES = OobRules()
LOCK = LockoutRules()
PHONE = "+33 6 12 34 56 78"


def issue(
    hasher: Argon2CodeHasher,
    *,
    purpose: str = "login",
    reference: str = "attempt-1",
    digest: str | None = None,
    channel: Channel = Channel.SMS,
    code: str | None = "482913",
    user_log: SendLog | None = None,
) -> IssueResult:
    return issue_oob(
        P,
        channel=channel,
        destination=PHONE,
        purpose=purpose,
        reference=reference,
        now=NOW,
        rules=RULES,
        hasher=hasher,
        user_log=user_log or SendLog(),
        destination_log=SendLog(),
        digest=digest,
        code=code,
    )


def check(
    challenge: OobChallenge | None,
    hasher: Argon2CodeHasher,
    code: str = "482913",
    *,
    purpose: str = "login",
    reference: str = "attempt-1",
    digest: str | None = None,
    after: timedelta = timedelta(seconds=20),
    lockout: LockoutState | None = None,
    who: Principal = P,
) -> OobVerdict:
    return verify_oob(
        challenge,
        lockout or LockoutState(),
        who,
        code,
        purpose=purpose,
        reference=reference,
        now=NOW + after,
        hasher=hasher,
        rules=RULES,
        lockout_rules=LOCK,
        digest=digest,
    )


def test_issue_makes_a_random_hashed_code_and_a_message(hasher: Argon2CodeHasher) -> None:
    result = issue(hasher, code=None)
    assert result.ok
    assert result.challenge is not None
    assert result.message is not None
    assert result.code is not None
    code = result.code.reveal()
    assert re.fullmatch(r"[0-9]{6}", code)
    assert code not in repr(result)
    assert code not in result.challenge.code_hash
    assert code in result.message.body
    assert "Never give this code" in result.message.body
    assert PHONE not in repr(result.message)
    assert result.challenge.expires_at - NOW == RULES.lifetime <= timedelta(minutes=10)
    assert result.user_log.sent == (NOW,)
    assert result.destination_log.sent == (NOW,)
    codes = {issue(hasher, code=None).code.reveal() for _ in range(5)}  # type: ignore[union-attr]
    assert len(codes) > 1


def test_operation_message_shows_amount_and_payee(hasher: Argon2CodeHasher) -> None:
    request = OperationRequest("payee_management", payee="FR7630006000011234567890189")
    result = issue_oob(
        P,
        channel=Channel.EMAIL,
        destination="jeanne@example.com",
        purpose="step_up",
        reference="payee_management",
        now=NOW,
        rules=OobRules(digits=8),
        hasher=hasher,
        user_log=SendLog(),
        destination_log=SendLog(),
        display=request.display(),
        digest=request.digest_for(request_linking()),
    )
    assert result.message is not None
    assert "IBAN:FR7630006000011234567890189" in result.message.body
    assert result.code is not None
    assert len(result.code.reveal()) == 8


def request_linking() -> Linking:
    return Linking.PAYEE


def test_a_code_is_accepted_once(hasher: Argon2CodeHasher) -> None:
    issued = issue(hasher)
    first = check(issued.challenge, hasher)
    assert first.ok
    assert first.method is SMS_OTP
    assert not is_strong([SMS_OTP])
    assert first.challenge is not None
    assert first.challenge.consumed_at is not None
    again = check(first.challenge, hasher)
    assert again.reason is OobFailure.ALREADY_USED
    assert again.lockout.failures == 1


def test_email_codes_are_email_otp(hasher: Argon2CodeHasher) -> None:
    issued = issue(hasher, channel=Channel.EMAIL)
    assert check(issued.challenge, hasher).method is EMAIL_OTP


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"after": timedelta(minutes=5)}, OobFailure.EXPIRED),
        ({"purpose": "step_up"}, OobFailure.WRONG_BINDING),
        ({"reference": "attempt-2"}, OobFailure.WRONG_BINDING),
        ({"digest": "ab" * 32}, OobFailure.DATA_CHANGED),
        ({"who": OTHER}, OobFailure.OTHER_PRINCIPAL),
        ({"code": "482914"}, OobFailure.WRONG_CODE),
    ],
)
def test_unusable_codes(
    hasher: Argon2CodeHasher, change: dict[str, object], reason: OobFailure
) -> None:
    issued = issue(hasher)
    verdict = check(issued.challenge, hasher, **change)  # type: ignore[arg-type]
    assert verdict.outcome is Outcome.REJECTED
    assert verdict.reason is reason
    assert verdict.lockout.failures == 1


def test_no_challenge_costs_one_argon2_like_a_wrong_code(
    hasher: Argon2CodeHasher, argon2_counter: CountingPasswordHasher
) -> None:
    issued = issue(hasher)
    before = argon2_counter.verifications
    check(None, hasher)
    check(issued.challenge, hasher, code="000000")
    check(issued.challenge, hasher, after=timedelta(minutes=6))
    assert argon2_counter.verifications - before == 3


def test_linked_code_binds_the_operation_data(hasher: Argon2CodeHasher) -> None:
    payment = Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
    issued = issue(
        hasher, purpose="step_up", reference="sepa_instant_transfer", digest=payment.digest
    )
    other = Payment(Money(15001, "EUR"), "FR7630006000011234567890189")
    changed = check(
        issued.challenge,
        hasher,
        purpose="step_up",
        reference="sepa_instant_transfer",
        digest=other.digest,
    )
    assert changed.reason is OobFailure.DATA_CHANGED
    ok = check(
        changed.challenge,
        hasher,
        purpose="step_up",
        reference="sepa_instant_transfer",
        digest=payment.digest,
    )
    assert ok.ok


def test_a_code_is_burnt_after_too_many_wrong_tries(hasher: Argon2CodeHasher) -> None:
    challenge = issue(hasher).challenge
    for _ in range(RULES.max_wrong):
        verdict = check(challenge, hasher, code="111111")
        challenge = verdict.challenge
    assert challenge is not None
    assert challenge.wrong == RULES.max_wrong
    assert check(challenge, hasher).reason is OobFailure.BURNT


def test_failures_share_the_lockout(hasher: Argon2CodeHasher) -> None:
    issued = issue(hasher)
    verdict = check(issued.challenge, hasher, code="111111", lockout=LockoutState(failures=4))
    assert verdict.outcome is Outcome.BLOCKED
    refused = check(issued.challenge, hasher, lockout=verdict.lockout)
    assert refused.outcome is Outcome.BLOCKED
    assert refused.reason is OobFailure.BLOCKED_TEMPORARILY
    assert refused.lockout == verdict.lockout


def test_throttles(hasher: Argon2CodeHasher) -> None:
    log = SendLog()
    now = NOW
    for i in range(RULES.per_user):
        result = issue_oob(
            P,
            channel=Channel.SMS,
            destination=PHONE,
            purpose="login",
            reference=str(i),
            now=now,
            rules=RULES,
            hasher=hasher,
            user_log=log,
            destination_log=SendLog(),
        )
        assert result.ok
        log = result.user_log
        soon = issue_oob(
            P,
            channel=Channel.SMS,
            destination=PHONE,
            purpose="login",
            reference="x",
            now=now + timedelta(seconds=5),
            rules=RULES,
            hasher=hasher,
            user_log=log,
            destination_log=SendLog(),
        )
        assert soon.reason == "too_soon"
        assert soon.retry_after == now + RULES.min_interval
        now += timedelta(minutes=1)
    refused = issue_oob(
        P,
        channel=Channel.SMS,
        destination=PHONE,
        purpose="login",
        reference="y",
        now=now,
        rules=RULES,
        hasher=hasher,
        user_log=log,
        destination_log=SendLog(),
    )
    assert refused.reason == "throttled_user"
    assert refused.events[0].outcome == "refused"
    later = now + RULES.throttle_window
    assert issue_oob(
        P,
        channel=Channel.SMS,
        destination=PHONE,
        purpose="login",
        reference="z",
        now=later,
        rules=RULES,
        hasher=hasher,
        user_log=log,
        destination_log=SendLog(),
    ).ok
    full = SendLog(tuple(NOW + timedelta(minutes=i) for i in range(RULES.per_destination)))
    other_user = issue_oob(
        OTHER,
        channel=Channel.SMS,
        destination=PHONE,
        purpose="login",
        reference="w",
        now=NOW + timedelta(minutes=10),
        rules=RULES,
        hasher=hasher,
        user_log=SendLog(),
        destination_log=full,
    )
    assert other_user.reason == "throttled_destination"
    assert destination_key(Channel.SMS, PHONE) == destination_key(Channel.SMS, "+336 1234 5678")
    assert PHONE.replace(" ", "") not in destination_key(Channel.SMS, PHONE)


def test_rules_and_input_are_validated(hasher: Argon2CodeHasher) -> None:
    for bad in (
        {"lifetime": timedelta(minutes=11)},
        {"digits": 5},
        {"digits": 9},
        {"max_wrong": 0},
    ):
        with pytest.raises(ConfigurationError):
            OobRules(**bad)
    challenge = issue(hasher).challenge
    for code in ("12345", "abcdef", FULLWIDTH, "123456789"):
        with pytest.raises(InvalidCode):
            check(challenge, hasher, code=code)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=st.lists(st.sampled_from(["482913", "111111", "482914"]), min_size=1, max_size=6))
def test_property_a_code_is_never_accepted_twice(
    hasher: Argon2CodeHasher, attempts: list[str]
) -> None:
    challenge = issue(hasher).challenge
    accepted = 0
    for code in ["482913", *attempts]:
        verdict = check(challenge, hasher, code=code)
        challenge = verdict.challenge
        accepted += verdict.ok
    assert accepted == 1


def test_concurrent_submissions_of_one_code_succeed_once(hasher: Argon2CodeHasher) -> None:
    cell: Cell[tuple[OobChallenge | None, LockoutState]] = Cell(
        (issue(hasher).challenge, LockoutState())
    )

    def decide(
        state: tuple[OobChallenge | None, LockoutState],
    ) -> tuple[bool, tuple[OobChallenge | None, LockoutState]]:
        verdict = verify_oob(
            state[0],
            state[1],
            P,
            "482913",
            purpose="login",
            reference="attempt-1",
            now=NOW,
            hasher=hasher,
            rules=RULES,
            lockout_rules=LockoutRules(max_failures=100),
        )
        return verdict.ok, (verdict.challenge, verdict.lockout)

    assert race(6, lambda: commit_loop(cell, decide)) == 1
