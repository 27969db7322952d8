"""Shared values and helpers for the policy tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from securebox_auth.identity import Principal
from securebox_auth.policy import (
    PSD2_DEFAULT,
    Money,
    OperationRequest,
    Payment,
    Policy,
    Session,
    StepUpRequired,
    complete_step_up,
    decide_login,
    decide_operation,
)

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "src" / "securebox_auth" / "policies"
SCENARIOS = POLICIES / "scenarios"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALICE = Principal.parse("123456789", "01")
BOB = Principal.parse("123456789", "02")
IBAN_A = "FR7630006000011234567890189"
IBAN_B = "DE89370400440532013000"
IBAN_C = "BE68539007547034"


def login(
    methods: Sequence[str],
    *,
    at: datetime = T0,
    who: Principal = ALICE,
    last_sca: datetime | None = None,
    policy: Policy = PSD2_DEFAULT,
    channel: str = "web",
) -> Session:
    """A session opened by an allowed login (fails the test otherwise)."""
    outcome = decide_login(
        policy, principal=who, channel=channel, methods=methods, last_sca=last_sca, now=at
    )
    assert outcome.session is not None, outcome.decision.explain()
    return outcome.session


def transfer(amount: str = "150.00", payee: str = IBAN_A) -> OperationRequest:
    return OperationRequest(
        "sepa_instant_transfer", payment=Payment(Money.parse(amount, "EUR"), payee)
    )


def granted(
    session: Session,
    request: OperationRequest,
    *,
    at: datetime,
    methods: Sequence[str] = ("cap_sign",),
    policy: Policy = PSD2_DEFAULT,
) -> Session:
    """The session after a step-up for ``request`` proved ``methods`` 10 seconds after ``at``."""
    outcome = decide_operation(policy, session, request, now=at)
    assert isinstance(outcome.decision, StepUpRequired), outcome.decision.explain()
    done = complete_step_up(
        policy,
        outcome.session,
        outcome.decision.challenge,
        principal=session.principal,
        methods=methods,
        now=at + timedelta(seconds=10),
    )
    assert done.decision.allowed, done.decision.explain()
    return done.session
