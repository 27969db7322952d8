"""A certificate-challenge login (chain, revocation from a cached CRL, signature, challenge
binding, lockout, audit event) against the bare chain verification + signature check with
``cryptography`` in the same run. Target: <= 1.3x."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store
from harness import Comparison, compare

from securebox_auth.factors.certificate import (
    Revocation,
    enrol_certificate,
    issue_cert_challenge,
    new_nonce,
    verify_cert_challenge,
)
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.pki import TestPki


def run(quick: bool = False) -> list[Comparison]:
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    pki = TestPki(now)
    user = pki.issue("bench user")
    key = user.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    principal = Principal.parse("123456789", "01")
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    revocation = Revocation(crls=crls)
    credential, _ = enrol_certificate(
        principal,
        user.pem,
        intermediates=[pki.intermediate.pem],
        trust=trust,
        revocation=revocation,
        now=now,
    )
    challenge, _ = issue_cert_challenge(
        principal,
        challenge_id="bench",
        nonce=new_nonce(),
        purpose="login",
        audience="https://portal.example.test",
        now=now,
    )
    payload = challenge.payload()
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    at = now + timedelta(seconds=1)
    rules = LockoutRules()
    lockout = LockoutState()

    def login() -> None:
        verdict = verify_cert_challenge(
            credential,
            challenge,
            lockout,
            principal,
            signature,
            purpose="login",
            audience="https://portal.example.test",
            trust=trust,
            revocation=revocation,
            now=at,
            lockout_rules=rules,
        )
        assert verdict.ok

    store = Store([pki.root.cert])
    leaf, intermediate = user.cert, pki.intermediate.cert
    public = leaf.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)

    ca_policy, ee_policy = ExtensionPolicy.webpki_defaults_ca(), ExtensionPolicy.permit_all()

    def bare() -> None:
        verifier = (
            PolicyBuilder()
            .store(store)
            .time(at)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        verifier.verify(leaf, [intermediate])
        public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))

    rounds = 5 if quick else 15
    return [
        compare(
            ("certificate challenge login (core)", login),
            ("bare chain verify + ECDSA verify", bare),
            target=1.3,
            rounds=rounds,
            inner=20,
        )
    ]
