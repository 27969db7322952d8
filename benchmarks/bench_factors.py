"""Factors against their bare primitives, measured in the same run (performance.md targets):

* a passkey assertion from the browser's JSON, through ``finish_authentication`` (fast path,
  ceremony and counter checks, lockout, audit event): <= 2x one bare ES256 verification with a
  preloaded key (fido2's own ``authenticate_complete`` from the same JSON is reported too);
* a TOTP verification through ``verify_totp`` (replay state, lockout, audit event): <= 1.5x
  the minimal equivalent work with pyotp: one HOTP for the current step (``TOTP.at``) and a
  constant-time comparison, as the core computes one HOTP when the code is the current
  step's (``TOTP.verify(code, for_time, valid_window=1)``, which computes the previous step
  first, is printed too);
* a signed-assertion verification through ``verify_assertion`` (allow-listed algorithms,
  claims, acr/auth_time requirement): <= 1.2x bare joserfc (``jwt.decode`` + claims registry).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from harness import Comparison, compare
from joserfc import jwt
from joserfc.jwt import JWTClaimsRegistry

from securebox_auth.factors.hotp import decode_seed, hotp
from securebox_auth.factors.totp import code_at, confirm_totp, enrol_totp, verify_totp
from securebox_auth.factors.webauthn import (
    RelyingParty,
    begin_authentication,
    begin_registration,
    finish_authentication,
    finish_registration,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.policy.session import open_session
from securebox_auth.testing import SoftAuthenticator
from securebox_auth.tokens.assertions import (
    AssertionRequirement,
    TokenKeys,
    issue_assertion,
    verify_assertion,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
P = Principal.parse("123456789", "01")
RULES = LockoutRules()


def _passkey(rounds: int) -> list[Comparison]:
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    auth = SoftAuthenticator(counting=False)
    options, ceremony, owned = begin_registration(
        rp, P, None, now=NOW, user_name="u", display_name="d"
    )
    passkeys = finish_registration(rp, ceremony, owned, P, auth.create(options), now=NOW).passkeys
    options, ceremony = begin_authentication(rp, P, passkeys, now=NOW)
    body = json.dumps(auth.get(options))  # what the browser posts

    def ours() -> None:
        verdict = finish_authentication(
            rp, ceremony, passkeys, LockoutState(), P, body, now=NOW, lockout_rules=RULES
        )
        assert verdict.ok

    def fido2_path() -> None:
        verdict = finish_authentication(
            rp, ceremony, passkeys, LockoutState(), P, body, now=NOW, lockout_rules=RULES,
            engine="fido2",
        )  # fmt: skip
        assert verdict.ok

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    message = b"\x01" * 37 + hashlib.sha256(b"client data").digest()
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    algorithm = ec.ECDSA(hashes.SHA256())

    def bare() -> None:
        public.verify(signature, message, algorithm)

    return [
        compare(
            ("passkey assertion from browser JSON", ours),
            ("bare ES256 verify (key preloaded)", bare),
            target=2.0,
            rounds=rounds,
            inner=200,
        ),
        compare(
            ("  same, fido2 authenticate_complete", fido2_path),
            ("bare ES256 verify (key preloaded)", bare),
            target=20.0,
            rounds=rounds,
            inner=50,
        ),
    ]


def _totp(rounds: int) -> list[Comparison]:
    pending = enrol_totp(P, now=NOW, issuer="Bank").credential
    earlier = NOW - timedelta(minutes=1)
    confirmed = confirm_totp(
        pending, LockoutState(), P, code_at(pending, earlier), now=earlier, lockout_rules=RULES
    ).credential
    assert confirmed is not None
    code = code_at(confirmed, NOW)
    reference = pyotp.TOTP(confirmed.secret)

    def ours() -> None:
        assert verify_totp(confirmed, LockoutState(), P, code, now=NOW, lockout_rules=RULES).ok

    def bare() -> None:
        assert hmac.compare_digest(reference.at(NOW), code)

    def pyotp_window() -> None:
        assert reference.verify(code, for_time=NOW, valid_window=1)

    step = int(NOW.timestamp()) // 30

    def own_hotp() -> None:  # the core's own HOTP: what is left beside it is the verifier's
        assert hmac.compare_digest(hotp(decode_seed(confirmed.secret), step), code)

    pyotp_hotp = ("one pyotp HOTP (TOTP.at) + compare_digest", bare)
    rows = [
        (("TOTP verify via core (replay state, lockout)", ours), pyotp_hotp, 1.5),
        (
            ("  (reference) same, against the core's HOTP", ours),
            ("decode_seed + hotp + compare_digest", own_hotp),
            float("inf"),
        ),
        (("  (reference) pyotp TOTP.verify, window 1", pyotp_window), pyotp_hotp, float("inf")),
    ]
    return [
        compare(subject, baseline, target=target, rounds=rounds, inner=500)
        for subject, baseline, target in rows
    ]


def _assertion(rounds: int) -> Comparison:
    keys = TokenKeys.generate("t1", "ES256")
    session = open_session(P, "web", ["cap_identify"], NOW)
    issuer, audience = "https://auth.bank.example", "documents-api"
    token = issue_assertion(session, keys=keys, issuer=issuer, audience=audience, now=NOW)
    requirement = AssertionRequirement.for_operation(
        PSD2_DEFAULT, OperationRequest("cheque_book_order")
    )
    now_ts = int(NOW.timestamp())
    key = keys.signing_key

    def ours() -> None:
        verify_assertion(
            token, keys=keys, audience=audience, issuer=issuer, now=NOW, requirement=requirement
        )

    def bare() -> None:
        decoded = jwt.decode(token, key, algorithms=["ES256"])
        JWTClaimsRegistry(
            now=now_ts,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
        ).validate(decoded.claims)

    return compare(
        ("assertion verify with acr/auth_time check", ours),
        ("bare joserfc decode + claims registry", bare),
        target=1.2,
        rounds=rounds,
        inner=100,
    )


def run(quick: bool = False) -> list[Comparison]:
    rounds = 5 if quick else 11
    return [*_passkey(rounds), *_totp(rounds), _assertion(rounds)]
