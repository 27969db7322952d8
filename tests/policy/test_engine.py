"""The pure decisions (policy/engine.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from securebox_auth.errors import InvalidTime, MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import Element, LockoutRules, LockoutState, record_failure
from securebox_auth.policy import (
    PSD2_DEFAULT,
    Allow,
    Batch,
    Challenge,
    Deny,
    Linking,
    Money,
    OperationRequest,
    OperationRule,
    Payment,
    Policy,
    Reason,
    Renewal,
    RenewalRule,
    StepUpRequired,
    Unlisted,
    complete_step_up,
    decide_login,
    decide_operation,
)
from securebox_auth.policy.session import Grant, Session, with_grant

from .support import ALICE, BOB, IBAN_A, IBAN_B, T0, granted, login, transfer

DAY = timedelta(days=1)


def _login(methods: list[str], *, last_sca: datetime | None, at: datetime = T0, **kw: object):  # type: ignore[no-untyped-def]
    return decide_login(
        PSD2_DEFAULT,
        principal=ALICE,
        channel="web",
        methods=methods,
        last_sca=last_sca,
        now=at,
        **kw,  # type: ignore[arg-type]
    )


def _locked() -> LockoutState:
    state = LockoutState()
    for _ in range(5):
        state, _alert = record_failure(state, T0, LockoutRules(), element=Element.CODE)
    return state


# -- login and the renewal rule ----------------------------------------------------------------


def test_first_access_needs_strong_authentication() -> None:
    decision, session, last_sca = _login(["confidential_code"], last_sca=None)
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.FIRST_ACCESS
    assert session is None
    assert last_sca is None
    assert decision.methods == (
        "cap_identify",
        "cap_respond",
        "certificate",
        "smartcard_pin",
        "passkey_uv",
        "totp",
    )
    assert decision.challenge.operation is None
    assert decision.challenge.acr_values == (PSD2_DEFAULT.acr.strong,)


def test_strong_login_restarts_the_clock() -> None:
    decision, session, last_sca = _login(["cap_identify"], last_sca=T0 - 200 * DAY)
    assert isinstance(decision, Allow)
    assert session is not None
    assert session.strong
    assert last_sca == T0
    assert decision.acr == PSD2_DEFAULT.acr.strong
    assert decision.amr == ("hwk", "pin", "otp", "mfa")
    combined = _login(["confidential_code", "totp"], last_sca=None).decision
    assert isinstance(combined, Allow)
    assert combined.acr == PSD2_DEFAULT.acr.strong


@pytest.mark.parametrize(("days", "allowed"), [(1, True), (89, True), (90, True), (91, False)])
def test_renewal_every_90_days(days: int, allowed: bool) -> None:
    decision, session, last_sca = _login(["confidential_code"], last_sca=T0, at=T0 + days * DAY)
    assert decision.allowed is allowed
    assert last_sca == T0  # a simple login never moves the clock
    if allowed:
        assert session is not None
        assert not session.strong
        assert decision.rules == ("renewal.recent",)
    else:
        assert isinstance(decision, StepUpRequired)
        assert decision.reason is Reason.RENEWAL_EXPIRED


def test_one_second_past_the_period() -> None:
    at = T0 + 90 * DAY + timedelta(seconds=1)
    assert not _login(["confidential_code"], last_sca=T0, at=at).decision.allowed


def test_renewal_per_channel() -> None:
    policy = dataclasses.replace(
        PSD2_DEFAULT, renewal=Renewal(channels=(("aisp", RenewalRule(every_days=180)),))
    )
    for channel, allowed in (("web", False), ("aisp", True), ("mobile", False)):
        decision = decide_login(
            policy,
            principal=ALICE,
            channel=channel,
            methods=["confidential_code"],
            last_sca=T0,
            now=T0 + 120 * DAY,
        ).decision
        assert decision.allowed is allowed, channel


def test_every_login() -> None:
    policy = dataclasses.replace(PSD2_DEFAULT, renewal=Renewal(every_login=True))
    decision = decide_login(
        policy,
        principal=ALICE,
        channel="web",
        methods=["confidential_code"],
        last_sca=T0,
        now=T0 + timedelta(minutes=1),
    ).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.EVERY_LOGIN
    assert decision.challenge.max_age == 0


def test_a_last_sca_in_the_future_is_not_trusted() -> None:
    decision = _login(["confidential_code"], last_sca=T0 + 30 * DAY).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.rules == ("renewal.clock_in_future",)


def test_locked_principal_cannot_log_in() -> None:
    decision, session, _ = _login(["cap_identify"], last_sca=T0, lockout=_locked())
    assert isinstance(decision, Deny)
    assert decision.reason is Reason.LOCKED
    assert session is None
    assert decision.status == 403
    open_again = _login(
        ["cap_identify"], last_sca=T0, at=T0 + timedelta(minutes=16), lockout=_locked()
    )
    assert open_again.decision.allowed


def test_method_not_accepted_at_login() -> None:
    decision = _login(["sms_otp"], last_sca=T0).decision
    assert isinstance(decision, Deny)
    assert decision.reason is Reason.METHOD_NOT_ACCEPTED


def test_enrolled_methods_filter_the_offer() -> None:
    decision = _login(["confidential_code"], last_sca=None, enrolled={"confidential_code", "totp"})
    assert isinstance(decision.decision, StepUpRequired)
    assert decision.decision.methods == ("totp",)
    nothing = _login(["confidential_code"], last_sca=None, enrolled={"confidential_code"})
    assert isinstance(nothing.decision, Deny)
    assert nothing.decision.reason is Reason.NO_ENROLLED_METHOD


@pytest.mark.parametrize("methods", [[], ["nope"]])
def test_login_misuse(methods: list[str]) -> None:
    with pytest.raises(MalformedInput):
        _login(methods, last_sca=None)


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidTime):
        _login(["cap_identify"], last_sca=None, at=datetime(2026, 1, 1))


# -- operations ---------------------------------------------------------------------------------


def test_unlisted_operations() -> None:
    session = login(["cap_identify"])
    decision, _ = decide_operation(PSD2_DEFAULT, session, OperationRequest("x"), now=T0)
    assert isinstance(decision, Deny)
    assert decision.reason is Reason.UNLISTED_OPERATION
    relaxed = dataclasses.replace(PSD2_DEFAULT, unlisted_operations=Unlisted.ALLOW)
    assert decide_operation(relaxed, session, OperationRequest("x"), now=T0).decision.allowed


def test_ordinary_operation_needs_a_live_session() -> None:
    session = login(["confidential_code"], last_sca=T0 - DAY)
    at = T0 + timedelta(seconds=300)
    decision, after = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=at
    )
    assert decision.allowed
    assert decision.rules == ("operation.not_sensitive",)
    assert after.last_activity == at
    idle = decide_operation(
        PSD2_DEFAULT, after, OperationRequest("account_access"), now=at + timedelta(seconds=301)
    )
    assert isinstance(idle.decision, Deny)
    assert idle.decision.reason is Reason.SESSION_IDLE
    assert idle.decision.reauthenticate
    assert idle.decision.status == 401
    assert idle.session == after


def test_absolute_lifetime() -> None:
    session = login(["cap_identify"])
    at = T0
    while at <= T0 + timedelta(hours=12):
        at += timedelta(minutes=4)
        outcome = decide_operation(PSD2_DEFAULT, session, OperationRequest("document_box"), now=at)
        session = outcome.session
    assert isinstance(outcome.decision, Deny)
    assert outcome.decision.reason is Reason.SESSION_EXPIRED


def test_fresh_strong_login_serves_entitlements() -> None:
    session = login(["cap_identify"])
    request = OperationRequest("entitlements_management")
    assert decide_operation(
        PSD2_DEFAULT, session, request, now=T0 + timedelta(minutes=4)
    ).decision.allowed
    # proofs age even while the session is kept alive
    alive = session
    for minute in (2, 4):
        alive = decide_operation(
            PSD2_DEFAULT,
            alive,
            OperationRequest("account_access"),
            now=T0 + timedelta(minutes=minute),
        ).session
    decision = decide_operation(
        PSD2_DEFAULT, alive, request, now=T0 + timedelta(minutes=6)
    ).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.PROOF_TOO_OLD
    assert decision.challenge.max_age == 300


def test_code_session_steps_up_with_the_missing_category() -> None:
    session = login(["confidential_code"], last_sca=T0 - DAY)
    request = OperationRequest("entitlements_management")
    decision, session = decide_operation(
        PSD2_DEFAULT, session, request, now=T0 + timedelta(seconds=5)
    )
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.NOT_STRONG
    assert "confidential_code" not in decision.methods
    assert "totp" in decision.methods
    assert "cap_identify" in decision.methods
    done = complete_step_up(
        PSD2_DEFAULT,
        session,
        decision.challenge,
        principal=ALICE,
        methods=["totp"],
        now=T0 + timedelta(seconds=30),
    )
    assert done.decision.allowed
    assert decide_operation(
        PSD2_DEFAULT, done.session, request, now=T0 + timedelta(seconds=40)
    ).decision.allowed


def test_linked_transfer_single_use() -> None:
    session = login(["cap_identify"])
    request = transfer("1250.00", IBAN_A)
    decision, _ = decide_operation(PSD2_DEFAULT, session, request, now=T0)
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.NO_GRANT
    assert decision.challenge.linking is Linking.AMOUNT_PAYEE
    assert decision.challenge.digest == request.digest_for(Linking.AMOUNT_PAYEE)
    assert decision.challenge.display == (("amount", "1250.00 EUR"), ("payee", f"IBAN:{IBAN_A}"))
    assert decision.challenge.max_age == 0
    session = granted(session, request, at=T0)
    allowed, session = decide_operation(
        PSD2_DEFAULT, session, request, now=T0 + timedelta(seconds=20)
    )
    assert isinstance(allowed, Allow)
    assert allowed.consumed is not None
    assert session.grants == ()
    again = decide_operation(PSD2_DEFAULT, session, request, now=T0 + timedelta(seconds=25))
    assert isinstance(again.decision, StepUpRequired)
    assert again.decision.reason is Reason.NO_GRANT


@pytest.mark.parametrize("changed", [transfer("1250.01", IBAN_A), transfer("1250.00", IBAN_B)])
def test_changed_amount_or_payee_invalidates_the_grant(changed: OperationRequest) -> None:
    original = transfer("1250.00", IBAN_A)
    session = granted(login(["cap_identify"]), original, at=T0)
    decision, session = decide_operation(
        PSD2_DEFAULT, session, changed, now=T0 + timedelta(seconds=20)
    )
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.GRANT_MISMATCH
    assert session.grants == ()  # invalidated, not kept for later
    back = decide_operation(PSD2_DEFAULT, session, original, now=T0 + timedelta(seconds=21))
    assert isinstance(back.decision, StepUpRequired)
    assert back.decision.reason is Reason.NO_GRANT


def test_grant_expires() -> None:
    session = granted(login(["cap_identify"]), transfer(), at=T0)
    keep_alive = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=T0 + timedelta(minutes=4)
    ).session
    decision = decide_operation(
        PSD2_DEFAULT, keep_alive, transfer(), now=T0 + timedelta(minutes=5, seconds=11)
    ).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.GRANT_EXPIRED


def test_batch_signing_is_bound_to_total_and_payees() -> None:
    def batch(*lines: tuple[str, str]) -> OperationRequest:
        payments = [Payment(Money.parse(a, "EUR"), p) for p, a in lines]
        return OperationRequest("payment_batch_signing", batch=Batch.of(payments))

    signed = batch((IBAN_A, "500.00"), (IBAN_B, "250.00"))
    session = granted(login(["certificate"]), signed, at=T0, methods=["certificate"])
    added = batch((IBAN_A, "500.00"), (IBAN_B, "250.00"), (IBAN_B, "1.00"))
    decision = decide_operation(
        PSD2_DEFAULT, session, added, now=T0 + timedelta(seconds=20)
    ).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.reason is Reason.GRANT_MISMATCH
    session = granted(login(["certificate"]), signed, at=T0, methods=["certificate"])
    reordered = batch((IBAN_B, "250.00"), (IBAN_A, "500.00"))
    assert decide_operation(
        PSD2_DEFAULT, session, reordered, now=T0 + timedelta(seconds=20)
    ).decision.allowed


def test_payee_management_even_after_a_strong_login() -> None:
    session = login(["certificate"])
    request = OperationRequest("payee_management", payee=IBAN_A)
    decision = decide_operation(
        PSD2_DEFAULT, session, request, now=T0 + timedelta(seconds=1)
    ).decision
    assert isinstance(decision, StepUpRequired)
    assert decision.challenge.display == (("payee", f"IBAN:{IBAN_A}"),)


def test_linked_operation_needs_its_data() -> None:
    session = login(["cap_identify"])
    with pytest.raises(MalformedInput):
        decide_operation(PSD2_DEFAULT, session, OperationRequest("sepa_instant_transfer"), now=T0)


def test_a_foreign_grant_in_the_session_is_ignored_and_dropped() -> None:
    session = login(["cap_identify"])
    request = transfer()
    forged = Grant(
        "sepa_instant_transfer",
        BOB,
        request.digest_for(Linking.AMOUNT_PAYEE),
        T0,
        T0 + timedelta(minutes=5),
        ("cap_sign",),
    )
    tampered = dataclasses.replace(session, grants=(forged,))
    decision, after = decide_operation(
        PSD2_DEFAULT, tampered, request, now=T0 + timedelta(seconds=1)
    )
    assert isinstance(decision, StepUpRequired)
    assert after.grants == ()


def test_locked_principal_cannot_operate() -> None:
    session = login(["cap_identify"])
    decision = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=T0, lockout=_locked()
    ).decision
    assert isinstance(decision, Deny)
    assert decision.reason is Reason.LOCKED


# -- completing a step-up ----------------------------------------------------------------------


def _challenge(session_at: datetime = T0) -> tuple[Session, Challenge]:
    session = login(["confidential_code"], at=session_at, last_sca=session_at - DAY)
    decision, session = decide_operation(PSD2_DEFAULT, session, transfer(), now=session_at)
    assert isinstance(decision, StepUpRequired)
    return session, decision.challenge


@pytest.mark.parametrize(
    ("principal", "methods", "delay", "reason"),
    [
        (BOB, ["cap_sign"], 10, Reason.PRINCIPAL_MISMATCH),
        (ALICE, ["sms_otp"], 10, Reason.METHOD_NOT_ACCEPTED),
        (ALICE, ["cap_sign", "totp"], 10, Reason.METHOD_NOT_ACCEPTED),
        (ALICE, ["cap_sign"], 301, Reason.SESSION_IDLE),
    ],
)
def test_step_up_refusals(
    principal: Principal, methods: list[str], delay: int, reason: Reason
) -> None:
    session, challenge = _challenge()
    decision, after = complete_step_up(
        PSD2_DEFAULT,
        session,
        challenge,
        principal=principal,
        methods=methods,
        now=T0 + timedelta(seconds=delay),
    )
    assert isinstance(decision, Deny)
    assert decision.reason is reason
    assert not after.grants


def test_step_up_must_prove_the_categories_itself() -> None:
    policy = PSD2_DEFAULT.with_operations(
        [
            OperationRule(
                name="cheque_book_order",
                methods=("cap_identify", "confidential_code", "totp"),
                single_use=True,
            )
        ]
    )
    session = login(["confidential_code"], last_sca=T0 - DAY, policy=policy)
    decision, session = decide_operation(
        policy, session, OperationRequest("cheque_book_order"), now=T0
    )
    assert isinstance(decision, StepUpRequired)
    weak = complete_step_up(
        policy, session, decision.challenge, principal=ALICE, methods=["totp"], now=T0
    )
    assert isinstance(weak.decision, Deny)
    assert weak.decision.reason is Reason.STEP_UP_INSUFFICIENT
    ok = complete_step_up(
        policy,
        session,
        decision.challenge,
        principal=ALICE,
        methods=["confidential_code", "totp"],
        now=T0,
    )
    assert ok.decision.allowed


def test_linked_step_up_needs_a_linking_method() -> None:
    policy = PSD2_DEFAULT.with_operations(
        [
            OperationRule(
                name="sepa_instant_transfer",
                methods=("cap_sign", "cap_identify"),
                single_use=True,
                linking=Linking.AMOUNT_PAYEE,
            )
        ]
    )
    session = login(["cap_identify"], policy=policy)
    decision, session = decide_operation(policy, session, transfer(), now=T0)
    assert isinstance(decision, StepUpRequired)
    assert decision.methods == ("cap_sign", "cap_identify")  # linking-capable first
    refused = complete_step_up(
        policy, session, decision.challenge, principal=ALICE, methods=["cap_identify"], now=T0
    )
    assert isinstance(refused.decision, Deny)
    assert refused.decision.reason is Reason.LINKING_METHOD_MISSING


def test_stale_or_foreign_challenges() -> None:
    session, challenge = _challenge()
    keep = decide_operation(
        PSD2_DEFAULT,
        session,
        OperationRequest("account_access"),
        now=T0 + timedelta(minutes=4),
    ).session
    late = complete_step_up(
        PSD2_DEFAULT,
        keep,
        challenge,
        principal=ALICE,
        methods=["cap_sign"],
        now=T0 + timedelta(minutes=5, seconds=1),
    )
    assert isinstance(late.decision, Deny)
    assert late.decision.reason is Reason.CHALLENGE_EXPIRED
    login_challenge = _login(["confidential_code"], last_sca=None).decision
    assert isinstance(login_challenge, StepUpRequired)
    wrong = complete_step_up(
        PSD2_DEFAULT,
        session,
        login_challenge.challenge,
        principal=ALICE,
        methods=["cap_sign"],
        now=T0,
    )
    assert isinstance(wrong.decision, Deny)
    assert wrong.decision.reason is Reason.CHALLENGE_MISMATCH
    bobs = login(["cap_identify"], who=BOB)
    other = complete_step_up(
        PSD2_DEFAULT,
        bobs,
        challenge,
        principal=BOB,
        methods=["cap_sign"],
        now=T0,
    )
    assert isinstance(other.decision, Deny)
    assert other.decision.reason is Reason.PRINCIPAL_MISMATCH


def test_with_grant_refuses_another_principal() -> None:
    session = login(["cap_identify"])
    grant = Grant("sepa_instant_transfer", BOB, None, T0, T0 + timedelta(minutes=5), ("cap_sign",))
    with pytest.raises(MalformedInput):
        with_grant(session, grant)


def test_policy_change_takes_effect_immediately() -> None:
    """Decisions read the policy passed in: no cached verdicts survive a policy change."""
    session = login(["cap_identify"])
    strict = PSD2_DEFAULT.with_operations(
        [OperationRule(name="entitlements_management", methods=("certificate",), single_use=True)]
    )
    request = OperationRequest("entitlements_management")
    assert decide_operation(PSD2_DEFAULT, session, request, now=T0).decision.allowed
    assert not decide_operation(strict, session, request, now=T0).decision.allowed
    assert isinstance(Policy(), Policy)
