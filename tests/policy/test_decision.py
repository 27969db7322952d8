"""Typed decisions (policy/decision.py): explain() and the RFC 9470 rendering."""

from __future__ import annotations

import re
from datetime import timedelta

from securebox_auth.policy import (
    PSD2_DEFAULT,
    Allow,
    Deny,
    Fired,
    OperationRequest,
    Reason,
    StepUpRequired,
    decide_login,
    decide_operation,
)
from securebox_auth.policy.decision import Challenge, format_fact

from .support import ALICE, IBAN_A, T0, login, transfer

# RFC 9470 section 3 / RFC 6750 section 3: auth-params as quoted strings.
CHALLENGE = re.compile(
    r'Bearer error="insufficient_user_authentication", '
    r'error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*", '
    r'acr_values="[^"\\ ]+( [^"\\ ]+)*"'
    r'(, max_age="[0-9]+")?'
)


def test_step_up_explains_itself() -> None:
    decision = decide_login(
        PSD2_DEFAULT,
        principal=ALICE,
        channel="web",
        methods=["confidential_code"],
        last_sca=T0,
        now=T0 + timedelta(days=91),
    ).decision
    assert isinstance(decision, StepUpRequired)
    text = decision.explain()
    assert text.splitlines()[0] == "StepUpRequired (renewal_expired) for login"
    assert "renewal.expired [PSD2 RTS art. 10(2)(b)" in text
    assert "was 91 days ago, more than 90 days" in text
    assert "last_sca = 2026-01-05T09:00:00+00:00" in text
    assert "acceptable methods: cap_identify, cap_respond" in text
    header = decision.www_authenticate()
    assert CHALLENGE.fullmatch(header), header
    assert 'acr_values="urn:securebox:acr:sca"' in header
    assert "max_age" not in header
    assert decision.status == 401


def test_operation_step_up_renders_max_age_and_linking() -> None:
    session = login(["cap_identify"])
    decision = decide_operation(PSD2_DEFAULT, session, transfer("99.90", IBAN_A), now=T0).decision
    assert isinstance(decision, StepUpRequired)
    header = decision.www_authenticate()
    assert CHALLENGE.fullmatch(header), header
    assert header.endswith('max_age="0"')
    text = decision.explain()
    assert f"show the user: amount 99.90 EUR; payee IBAN:{IBAN_A}" in text
    assert decision.challenge.digest is not None
    assert "linking=amount_payee" in text
    assert decision.challenge.digest in text

    alive = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=T0 + timedelta(minutes=4)
    ).session
    stale = decide_operation(
        PSD2_DEFAULT,
        alive,
        OperationRequest("entitlements_management"),
        now=T0 + timedelta(minutes=5, seconds=1),
    ).decision
    assert isinstance(stale, StepUpRequired)
    assert stale.www_authenticate().endswith('max_age="300"')


def test_allow_and_deny() -> None:
    session = login(["cap_identify"])
    allow = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=T0
    ).decision
    assert isinstance(allow, Allow)
    assert allow.explain().startswith("Allow operation 'account_access'")
    assert allow.www_authenticate() is None
    assert allow.status == 200
    idle = decide_operation(
        PSD2_DEFAULT, session, OperationRequest("account_access"), now=T0 + timedelta(hours=1)
    ).decision
    assert isinstance(idle, Deny)
    assert idle.reauthenticate
    assert idle.www_authenticate() == (
        'Bearer error="invalid_token", error_description="the session was inactive for 1 '
        'hour, more than 5 minutes: log in again"'
    )
    unlisted = decide_operation(PSD2_DEFAULT, session, OperationRequest("x"), now=T0).decision
    assert isinstance(unlisted, Deny)
    assert unlisted.www_authenticate() is None
    assert unlisted.status == 403
    assert unlisted.explain().startswith("Deny (unlisted_operation)")


def test_error_description_is_sanitised() -> None:
    fired = Fired("r", "", 'a "quoted" \\ sentence — é', ())
    challenge = Challenge(ALICE, "op", ("acr",), None, ("cap_sign",), T0)
    decision = StepUpRequired(Reason.NO_GRANT, ("cap_sign",), challenge, (fired,))
    assert 'error_description="a ?quoted? ? sentence ? ?"' in decision.www_authenticate()


def test_format_fact() -> None:
    assert format_fact(timedelta(days=1)) == "1 day"
    assert format_fact(timedelta(days=91)) == "91 days"
    assert format_fact(timedelta(seconds=1)) == "1 second"
    assert format_fact(timedelta(seconds=301)) == "301 seconds"
    assert format_fact(timedelta(minutes=5)) == "5 minutes"
    assert format_fact(timedelta(hours=12)) == "12 hours"
    assert format_fact(timedelta(0)) == "0 seconds"
    assert format_fact(timedelta(days=1, hours=12)) == "36 hours"
    assert format_fact(timedelta(days=1, seconds=1)) == "1.00 days"
    assert format_fact(None) == "(none)"
    assert format_fact(()) == "(none)"
    assert format_fact(frozenset({"b", "a"})) == "a, b"
    assert format_fact(Reason.LOCKED) == "locked"
