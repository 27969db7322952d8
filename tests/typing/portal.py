"""Typical portal code against the public API, under ``mypy --strict`` (not run by pytest).

Everything comes from ``securebox_auth`` itself: a login with the confidential code, the
90-day renewal rule, a stored session, a step-up for a transfer to a new payee with the grant
consumed, an assertion (JWT) checked downstream, and an entitlement check. If a public
signature changes incompatibly, mypy fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import assert_type

import securebox_auth as sb


def portal(store: sb.AuthStore, keys: sb.KeyProvider, clock: sb.Clock) -> str | None:
    policy = sb.shipped_policy("psd2-default")
    assert_type(policy, sb.Policy)
    findings = sb.lint(policy)
    assert_type(findings, tuple[sb.Finding, ...])

    codes = sb.ConfidentialCodeService(store, sb.Argon2CodeHasher(keys), clock=clock)
    login = codes.login("123456789", "01", "47120938")
    if not login.authenticated:
        return None
    principal = sb.Principal.parse("123456789", "01")
    now: datetime = clock.now()
    outcome = sb.decide_login(
        policy,
        principal=principal,
        channel="web",
        methods=["confidential_code"],
        last_sca=now - timedelta(days=10),
        now=now,
    )
    decision, session, last_sca = outcome
    assert_type(last_sca, datetime | None)
    if decision.kind != "allow" or session is None:
        return decision.www_authenticate()

    sessions = sb.SessionService(store, clock=clock, policy=policy)
    session_id = sessions.open(session)
    assert_type(sessions.get(session_id), sb.Versioned[sb.Session])

    transfer = sb.OperationRequest(
        "sepa_instant_transfer",
        payment=sb.Payment(sb.Money.parse("1250.00", "EUR"), "FR76 3000 6000 0112 3456 7890 189"),
    )
    decided, session = sb.decide_operation(policy, session, transfer, now=now)
    if isinstance(decided, sb.StepUpRequired):
        shown: tuple[tuple[str, str], ...] = decided.challenge.display
        assert transfer.payment is not None
        assert decided.challenge.digest == transfer.payment.digest, shown
        result = sessions.step_up(session_id, decided.challenge, methods=["cap_sign"])
        assert_type(result, sb.StepUpResult)
        session_id, session = result.session_id, result.session
        decided, session = sb.decide_operation(policy, session, transfer, now=now)
    if decided.kind == "allow" and decided.consumed is not None:
        assert_type(decided.consumed, sb.Grant)

    tokens = sb.TokenKeys.generate("k1")
    jwt = sb.issue_assertion(
        session, keys=tokens, issuer="https://portal", audience="payments", now=now
    )
    verifier = sb.AssertionVerifier(tokens, "https://portal", "payments", store, clock)
    try:
        verified = verifier.verify(
            jwt,
            subject=principal,
            requirement=sb.AssertionRequirement.for_operation(policy, transfer),
        )
        assert_type(verified, sb.VerifiedAssertion)
    except sb.InsufficientAuthentication as needed:
        return str(needed)
    except sb.TokenError:
        return None

    entitlements = sb.EntitlementService(
        store, sb.Argon2CodeHasher(keys), company_proofs=sb.KeyedCompanyProofs(keys), clock=clock
    )
    access = entitlements.check(
        principal, sb.Operation.VIEW, sb.SubscriptionRef(principal.client_id)
    )
    assert_type(access, sb.AccessDecision)
    try:
        sessions.end(session_id)
    except sb.SecureboxError as error:
        return error.code
    return jwt
