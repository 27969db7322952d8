"""Signed assertions: issue, verify, rotate, refuse, and the freshness requirement."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import OctKey

from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.policy.session import Session, open_session, with_proofs
from securebox_auth.tokens.assertions import (
    TYP,
    AssertionRequirement,
    InsufficientAuthentication,
    TokenAudience,
    TokenExpired,
    TokenInvalid,
    TokenKeys,
    issue_assertion,
    verify_assertion,
)
from tests.support import NOW

P = Principal.parse("123456789", "01")
ISS = "https://auth.bank.example"
AUD = "documents-api"
KEYS = TokenKeys.generate("t1")


def strong_session() -> Session:
    return open_session(P, "web", ["cap_identify"], NOW)


def token(session: Session | None = None, keys: TokenKeys = KEYS, **kw: Any) -> str:
    return issue_assertion(
        session or strong_session(), keys=keys, issuer=ISS, audience=AUD, now=NOW, **kw
    )


def verify(value: str, keys: TokenKeys = KEYS, **kw: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "audience": AUD,
        "issuer": ISS,
        "now": NOW + timedelta(seconds=30),
    }
    options.update(kw)
    return verify_assertion(value, keys=keys, **options)  # type: ignore[arg-type]


def _segments(value: str) -> tuple[dict[str, object], dict[str, object]]:
    head, body, _ = value.split(".")

    def load(part: str) -> dict[str, object]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]

    return load(head), load(body)


def test_claims() -> None:
    session = open_session(P, "web", ["confidential_code"], NOW - timedelta(minutes=10))
    session = with_proofs(session, ["totp"], NOW - timedelta(minutes=2))
    header, claims = _segments(token(session))
    assert header == {"alg": "ES256", "kid": "t1", "typ": TYP}
    assert claims["sub"] == "123456789:01"
    assert claims["iss"] == ISS
    assert claims["aud"] == AUD
    assert claims["acr"] == "urn:securebox:acr:sca"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["auth_time"] == int((NOW - timedelta(minutes=10)).timestamp())
    # strong since both categories were proven: as fresh as the older of the two proofs
    assert claims["sca_time"] == int((NOW - timedelta(minutes=10)).timestamp())
    assert claims["exp"] == int((NOW + timedelta(minutes=5)).timestamp())
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    simple = _segments(token(open_session(P, "web", ["confidential_code"], NOW)))[1]
    assert simple["acr"] == "urn:securebox:acr:simple"
    assert "sca_time" not in simple


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "Ed25519"])
def test_round_trip(algorithm: str) -> None:
    keys = TokenKeys.generate("k1", algorithm)  # type: ignore[arg-type]
    verified = verify(token(keys=keys), keys=keys)
    assert verified.subject == P
    assert verified.acr in {"urn:securebox:acr:sca:phr", "urn:securebox:acr:sca"}
    assert verified.auth_time == NOW
    assert verified.sca_time == NOW
    assert "hwk" in verified.amr


def test_rotation_and_jwks() -> None:
    old = token()
    rotated = KEYS.rotated("t2", "Ed25519")
    new = token(keys=rotated)
    assert _segments(new)[0]["kid"] == "t2"
    public = TokenKeys.from_jwks(rotated.jwks())
    assert all("d" not in k for k in rotated.jwks()["keys"])
    assert verify(old, keys=public).subject == P
    assert verify(new, keys=public).subject == P
    retired = rotated.retired("t1")
    with pytest.raises(TokenInvalid):
        verify(old, keys=retired)
    with pytest.raises(ConfigurationError):
        rotated.retired("t2")


def test_refusals() -> None:
    good = token()
    with pytest.raises(TokenAudience):
        verify(good, audience="payments-api")
    with pytest.raises(TokenInvalid):
        verify(good, issuer="https://evil.example")
    with pytest.raises(TokenExpired):
        verify(good, now=NOW + timedelta(minutes=6))
    with pytest.raises(TokenInvalid):
        verify(good, keys=TokenKeys.generate("t1"))
    with pytest.raises(TokenInvalid):
        verify(good, algorithms=["EdDSA"])
    with pytest.raises(TokenInvalid):
        verify(good[:-4] + "AAAA")
    for junk in ("", "a.b.c", 42, "x" * 20000):
        with pytest.raises(TokenInvalid):
            verify(junk)  # type: ignore[arg-type]


def test_hs256_and_none_and_other_typ_are_refused() -> None:
    _, claims = _segments(token())
    secret = OctKey.import_key("k" * 32, {"kid": "t1"})
    forged = jwt.encode(
        {"alg": "HS256", "kid": "t1", "typ": TYP}, claims, secret, algorithms=["HS256"]
    )
    with pytest.raises(TokenInvalid):
        verify(forged)
    head = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": TYP}).encode())
        .rstrip(b"=")
        .decode()
    )
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid):
        verify(f"{head}.{body}.")
    plain = jwt.encode(
        {"alg": "ES256", "kid": "t1"}, claims, KEYS.signing_key, algorithms=["ES256"]
    )
    with pytest.raises(TokenInvalid, match="not a securebox assertion"):
        verify(plain)


def test_freshness_and_acr_requirements() -> None:
    weak = token(open_session(P, "web", ["confidential_code"], NOW))
    requirement = AssertionRequirement.for_operation(
        PSD2_DEFAULT, OperationRequest("cheque_book_order")
    )
    with pytest.raises(InsufficientAuthentication) as caught:
        verify(weak, requirement=requirement)
    assert caught.value.reason == "not_strong"
    header = caught.value.www_authenticate()
    assert 'error="insufficient_user_authentication"' in header
    assert 'max_age="300"' in header
    assert "urn:securebox:acr:sca" in header
    strong = token()
    assert verify(strong, requirement=requirement).acr.startswith("urn:securebox:acr:sca")
    # strong authentication too old: a long-lived session cannot carry an old SCA forward
    old = issue_assertion(
        open_session(P, "web", ["cap_identify"], NOW - timedelta(minutes=6)),
        keys=KEYS,
        issuer=ISS,
        audience=AUD,
        now=NOW,
    )
    with pytest.raises(InsufficientAuthentication, match="proof_too_old"):
        verify(old, requirement=requirement)
    assert verify(token(), requirement=AssertionRequirement(amr=frozenset({"hwk"}))).amr
    with pytest.raises(InsufficientAuthentication):
        verify(token(), requirement=AssertionRequirement(amr=frozenset({"sc"})))
    with pytest.raises(InsufficientAuthentication):
        verify(old, requirement=AssertionRequirement(max_age=timedelta(minutes=5)))
    document_box = AssertionRequirement.for_operation(
        PSD2_DEFAULT, OperationRequest("document_box")
    )
    assert verify(weak, requirement=document_box).acr == "urn:securebox:acr:simple"
    assert not document_box.consumes


def test_step_up_grants_travel_in_the_assertion() -> None:
    payment = Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
    request = OperationRequest("sepa_instant_transfer", payment=payment)
    session = open_session(P, "web", ["confidential_code"], NOW)
    decision, session = decide_operation(PSD2_DEFAULT, session, request, now=NOW)
    challenge = decision.challenge  # type: ignore[union-attr]
    decision, session = complete_step_up(
        PSD2_DEFAULT, session, challenge, principal=P, methods=["passkey_uv"], now=NOW
    )
    assert decision.allowed
    value = token(session)
    requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, request)
    verified = verify(value, requirement=requirement)
    (grant,) = verified.grants
    assert grant.operation == "sepa_instant_transfer"
    assert grant.digest == payment.digest
    changed = OperationRequest(
        "sepa_instant_transfer", payment=Payment(Money(15001, "EUR"), payment.payee)
    )
    with pytest.raises(InsufficientAuthentication, match="grant_mismatch"):
        verify(value, requirement=AssertionRequirement.for_operation(PSD2_DEFAULT, changed))
    longer = token(session, lifetime=timedelta(minutes=10))
    # past the grant's expiry (and the session's idle timeout, counted from iat)
    with pytest.raises((InsufficientAuthentication, TokenExpired)):
        verify(longer, requirement=requirement, now=NOW + timedelta(minutes=5, seconds=1))


def test_key_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError):
        TokenKeys((), "x")
    with pytest.raises(ConfigurationError):
        TokenKeys(KEYS.keys, "nope")
    with pytest.raises(ConfigurationError):
        TokenKeys.from_jwks({"keys": "nope"})
    with pytest.raises(ConfigurationError):
        issue_assertion(
            strong_session(),
            keys=KEYS,
            issuer=ISS,
            audience=AUD,
            now=NOW,
            lifetime=timedelta(days=1),
        )
    assert "d" not in repr(KEYS) or "keys" not in repr(KEYS)


@settings(max_examples=30)
@given(
    position=st.integers(min_value=0, max_value=2000),
    replacement=st.sampled_from("ABCDEFabcdef0123456789-_"),
)
def test_property_any_changed_character_is_refused(position: int, replacement: str) -> None:
    value = token()
    index = position % len(value)
    if value[index] in ".":
        return
    changed = value[:index] + replacement + value[index + 1 :]
    if changed == value:
        return
    try:
        verified = verify(changed)
    except (TokenInvalid, TokenExpired, TokenAudience):
        return
    # base64url's last character can carry unused bits: the decoded bytes are unchanged
    assert verified.claims == verify(value).claims
