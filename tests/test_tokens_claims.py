"""The registered claims, the single use of an assertion, and an independent verifier.

* ``check_claims`` is joserfc's claims registry plus three documented stricter rules; a
  differential hypothesis test over mutated claims checks that it refuses whatever the
  registry refuses, and accepts whatever the registry accepts unless a stricter rule applies.
* :class:`AssertionVerifier` consumes a grant-carrying assertion once, and checks the
  expected subject.
* PyJWT, a verifier we do not write, verifies our ES256 and Ed25519 tokens from our JWKS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from securebox_auth.clock import FixedClock
from securebox_auth.identity import Principal
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.policy.session import Session, open_session
from securebox_auth.shell.token_verifier import (
    ASSERTION_GRANT,
    ASSERTION_JTI,
    AssertionVerifier,
    grant_key,
)
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.tokens.assertions import (
    AssertionRequirement,
    TokenAudience,
    TokenError,
    TokenExpired,
    TokenKeys,
    TokenReplayed,
    TokenSubject,
    issue_assertion,
    verify_assertion,
)
from securebox_auth.tokens.claims import MAX_JTI, check_claims
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
ISS = "https://auth.bank.example"
AUD = "payments-api"
T = int(NOW.timestamp())

# -- the differential test against joserfc's registry -------------------------------------------

_TIMES = st.one_of(
    st.none(),
    st.integers(min_value=T - 400, max_value=T + 400),
    st.sampled_from([T, T - 1, T + 1, float(T + 100), float(T - 100), True, False, "1", [T]]),
)
_TEXT = st.one_of(st.none(), st.sampled_from(["", "x", "123456789:01", 1, ["x"], {"a": 1}]))


_MISSING = object()


@st.composite
def _claims(draw: st.DrawFn) -> dict[str, Any]:
    """A valid set of claims with one to three of them mutated (or removed)."""
    choices: dict[str, Any] = {
        "iss": st.sampled_from([ISS, "https://evil.example", [ISS], 1, "", None]),
        "aud": st.sampled_from([AUD, "other", [AUD], ["other"], [AUD, "other"], "", 5, None]),
        "exp": _TIMES,
        "nbf": _TIMES,
        "iat": _TIMES,
        "sub": _TEXT,
        "jti": st.one_of(_TEXT, st.just("j" * (MAX_JTI + 1))),
    }
    claims: dict[str, Any] = {
        "iss": ISS, "aud": AUD, "exp": T + 300, "iat": T, "sub": P.key, "jti": "abc",
    }  # fmt: skip
    names = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=3, unique=True))
    for name in names:
        value = draw(st.one_of(st.just(_MISSING), choices[name]))
        if value is _MISSING:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _stricter(claims: dict[str, Any], now: int, leeway: int) -> bool:
    """The documented rules joserfc's registry leaves out."""
    times = [claims.get(n) for n in ("exp", "nbf", "iat")]
    texts = [claims.get(n) for n in ("iss", "sub", "jti")]
    return (
        any(t is not None and type(t) is not int for t in times)
        or any(t is not None and not isinstance(t, str) for t in texts)
        or (type(claims.get("exp")) is int and now >= claims["exp"] + leeway)
        or (isinstance(claims.get("jti"), str) and len(claims["jti"]) > MAX_JTI)
    )


@settings(max_examples=2000, deadline=None)
@given(claims=_claims(), leeway=st.sampled_from([0, 0, 30]))
def test_property_claims_match_the_joserfc_registry(claims: dict[str, Any], leeway: int) -> None:
    registry = JWTClaimsRegistry(
        now=T,
        leeway=leeway,
        iss={"essential": True, "value": ISS},
        aud={"essential": True, "value": AUD},
        exp={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(dict(claims))
        theirs = True
    except JoseError:
        theirs = False
    try:
        check_claims(claims, T, ISS, AUD, leeway)
        ours = True
    except TokenError:
        ours = False
    if theirs and not ours:
        assert _stricter(claims, T, leeway), claims
    else:
        assert ours == theirs, claims


def test_the_stricter_rules_and_the_error_kinds() -> None:
    good = {"iss": ISS, "aud": AUD, "exp": T + 60, "sub": "s", "jti": "j"}
    check_claims(good, T, ISS, AUD, 0)
    with pytest.raises(TokenExpired):
        check_claims({**good, "exp": T}, T, ISS, AUD, 0)  # RFC 7519: "before" exp
    with pytest.raises(TokenExpired):
        check_claims({**good, "exp": T - 10}, T, ISS, AUD, 0)
    with pytest.raises(TokenAudience):
        check_claims({**good, "aud": "other"}, T, ISS, AUD, 0)
    for bad in ({"exp": float(T + 60)}, {"iss": [ISS]}, {"iat": True}):
        with pytest.raises(TokenError):
            check_claims({**good, **bad}, T, ISS, AUD, 0)


# -- single use and the expected subject --------------------------------------------------------

PAYMENT = Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
TRANSFER = OperationRequest("sepa_instant_transfer", payment=PAYMENT)


def _stepped_up(principal: Principal = P) -> Session:
    session = open_session(principal, "web", ["confidential_code"], NOW)
    decision, session = decide_operation(PSD2_DEFAULT, session, TRANSFER, now=NOW)
    challenge = decision.challenge  # type: ignore[union-attr]
    decision, session = complete_step_up(
        PSD2_DEFAULT, session, challenge, principal=principal, methods=["cap_sign"], now=NOW
    )
    assert decision.allowed
    return session


def test_a_grant_carrying_assertion_is_used_once() -> None:
    keys = TokenKeys.generate("t1")
    store = MemoryStore()
    verifier = AssertionVerifier(
        keys=keys, issuer=ISS, audience=AUD, store=store, clock=FixedClock(NOW)
    )
    token = issue_assertion(_stepped_up(), keys=keys, issuer=ISS, audience=AUD, now=NOW)
    requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, TRANSFER)
    assert requirement.consumes
    # the pure check alone accepts it again and again (the defect the verifier closes)
    for _ in range(2):
        verify_assertion(
            token, keys=keys, audience=AUD, issuer=ISS, now=NOW, requirement=requirement
        )
    verified = verifier.verify(token, subject=P, requirement=requirement)
    with pytest.raises(TokenReplayed):
        verifier.verify(token, subject=P, requirement=requirement)
    assert [item for item, _ in store.factor_states(P, ASSERTION_JTI)] == [verified.jti]
    outcomes = [s.event.outcome for s in store.audit_log()]
    assert outcomes == ["success", "refused"]
    # an operation that is not single-use does not consume; consume=True forces it
    statements = AssertionRequirement.for_operation(PSD2_DEFAULT, OperationRequest("document_box"))
    other = issue_assertion(_stepped_up(), keys=keys, issuer=ISS, audience=AUD, now=NOW)
    verifier.verify(other, subject=P, requirement=statements)
    verifier.verify(other, subject=P, requirement=statements)
    verifier.verify(other, subject=P, consume=True)
    with pytest.raises(TokenReplayed):
        verifier.verify(other, subject=P, consume=True)


def test_a_grant_is_spent_once_whichever_assertion_carries_it() -> None:
    # Every assertion issued from a session carries the session's live grants: two
    # assertions asked after one step-up must not pay the approved transfer twice.
    keys = TokenKeys.generate("t1")
    store = MemoryStore()
    verifier = AssertionVerifier(
        keys=keys, issuer=ISS, audience=AUD, store=store, clock=FixedClock(NOW)
    )
    session = _stepped_up()
    first, second = (
        issue_assertion(session, keys=keys, issuer=ISS, audience=AUD, now=NOW) for _ in range(2)
    )
    requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, TRANSFER)
    verified = verifier.verify(first, subject=P, requirement=requirement)
    assert verified.spent is not None
    assert verified.spent.operation == "sepa_instant_transfer"
    with pytest.raises(TokenReplayed, match="grant"):
        verifier.verify(second, subject=P, requirement=requirement)
    assert [item for item, _ in store.factor_states(P, ASSERTION_GRANT)] == [
        grant_key(verified.spent)
    ]
    # the refused one left nothing behind: its jti was not recorded
    assert [item for item, _ in store.factor_states(P, ASSERTION_JTI)] == [verified.jti]
    # an assertion that spends no grant is not refused because of the spent grant
    assert verifier.verify(second, subject=P).spent is None


def test_the_subject_must_be_the_expected_one() -> None:
    keys = TokenKeys.generate("t1")
    verifier = AssertionVerifier(
        keys=keys, issuer=ISS, audience=AUD, store=MemoryStore(), clock=FixedClock(NOW)
    )
    token = issue_assertion(_stepped_up(OTHER), keys=keys, issuer=ISS, audience=AUD, now=NOW)
    requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, TRANSFER)
    with pytest.raises(TokenSubject):
        verifier.verify(token, subject=P, requirement=requirement)
    with pytest.raises(TokenSubject):
        verify_assertion(token, keys=keys, audience=AUD, issuer=ISS, now=NOW, subject=P)
    assert verifier.verify(token, subject=OTHER, requirement=requirement).subject == OTHER


# -- an independent verifier: PyJWT with our JWKS ------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "Ed25519"])
def test_pyjwt_verifies_our_tokens_with_our_jwks(algorithm: str) -> None:
    keys = TokenKeys.generate("t1", "ES256").rotated("t2", algorithm)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    session = open_session(P, "web", ["cap_identify"], now)
    token = issue_assertion(session, keys=keys, issuer=ISS, audience=AUD, now=now)
    jwks = keys.jwks()
    published = {k["kid"]: k for k in jwks["keys"]}
    header = pyjwt.get_unverified_header(token)
    assert header["alg"] == published["t2"]["alg"]  # the header says what the JWK says
    assert header["alg"] == ("ES256" if algorithm == "ES256" else "EdDSA")
    key_set = pyjwt.PyJWKSet.from_dict(jwks)  # as PyJWKClient parses a fetched JWKS
    key = key_set[header["kid"]]
    claims = pyjwt.decode(
        token,
        key=key,
        algorithms=[header["alg"]],
        audience=AUD,
        issuer=ISS,
        options={"require": ["exp", "iat", "sub", "jti"]},
    )
    assert claims["sub"] == P.key
    assert claims["proofs"] == {"cap_identify": int(now.timestamp())}
    public = TokenKeys.from_jwks(jwks)
    assert verify_assertion(token, keys=public, audience=AUD, issuer=ISS, now=now).subject == P
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token[:-4] + "AAAA", key=key, algorithms=[header["alg"]], audience=AUD)
