"""Certificates: a real PKI (root, intermediate, leaves), enrolment, revocation by CRL and
OCSP, challenge signature login and step-up, mTLS through a trusted proxy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes as KeyType,
)
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import SignatureAlgorithmOID
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.certificate import (
    CertChallenge,
    CertCredential,
    CertFailure,
    CertVerdict,
    ProxyTrust,
    Revocation,
    certificate_from_proxy,
    enrol_certificate,
    issue_cert_challenge,
    new_nonce,
    verify_cert_challenge,
    verify_presented_certificate,
)
from securebox_auth.factors.methods import CERTIFICATE, SMARTCARD_PIN, TOTP, AuthMethod
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.x509_trust import (
    CertificateRejected,
    CrlCache,
    RevocationPolicy,
    RevocationStatus,
    TrustSettings,
    add_crl,
    load_certificate,
    revocation_status,
    verify_chain,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.policy.linking import Money, Payment
from securebox_auth.testing.pki import Issued, TestPki
from tests.factors.race import Cell, commit_loop, race
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
RULES = LockoutRules()
AUD = "https://portal.example.test"


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki(NOW)


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustSettings:
    return TrustSettings(anchors=(pki.root.cert,))


@pytest.fixture(scope="module")
def good(pki: TestPki) -> Issued:
    return pki.issue("alice")


@pytest.fixture(scope="module")
def revocation(pki: TestPki) -> Revocation:
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
    return Revocation(crls=crls)


def _chain(pki: TestPki) -> list[bytes]:
    return [pki.intermediate.pem]


def _enrol(pki: TestPki, issued: Issued, trust: TrustSettings, rev: Revocation) -> CertCredential:
    credential, event = enrol_certificate(
        P, issued.pem, intermediates=_chain(pki), trust=trust, revocation=rev, now=NOW
    )
    assert event.action == "certificate.enrol"
    assert event.outcome == "success"
    return credential


def _sign(issued: Issued, challenge: CertChallenge) -> bytes:
    key = issued.key
    data = challenge.payload()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
        return key.sign(data, ec.ECDSA(digest))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign(data)


def _challenge(
    principal: Principal = P, purpose: str = "login", digest: str | None = None
) -> CertChallenge:
    challenge, event = issue_cert_challenge(
        principal,
        challenge_id="c-1",
        nonce=new_nonce(),
        purpose=purpose,
        audience=AUD,
        digest=digest,
        now=NOW,
    )
    assert event.outcome == "issued"
    return challenge


# --- enrolment: each certificate accepted or refused for the right reason ---------------------


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p256", "p384", "rsa2048", "ed25519"],
)
def test_allowed_key_types_enrol(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, make_key: Callable[[], KeyType]
) -> None:
    issued = pki.issue("ok", key=make_key())
    credential = _enrol(pki, issued, trust, revocation)
    assert credential.subject == P.key
    assert credential.certificate == issued.cert
    assert credential.chain == (pki.intermediate.cert,)


def test_der_and_pem_are_the_same_certificate(pki: TestPki, good: Issued) -> None:
    assert load_certificate(good.der) == load_certificate(good.pem.decode())
    with pytest.raises(MalformedInput):
        load_certificate(b"not a certificate")


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("expired", "chain"),
        ("not_yet_valid", "chain"),
        ("no_client_auth", "chain"),
        ("no_digital_signature", "chain"),
        ("other_ca", "chain"),
        ("rsa1024", "key_type"),
        ("p521", "key_type"),
        ("revoked_crl", "revoked"),
    ],
)
def test_refused_certificates(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, label: str, reason: str
) -> None:
    chain = _chain(pki)
    rev = revocation
    if label == "expired":
        issued = pki.issue(
            label, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(seconds=1)
        )
    elif label == "not_yet_valid":
        issued = pki.issue(label, not_before=NOW + timedelta(seconds=1))
    elif label == "no_client_auth":
        issued = pki.issue(label, client_auth=False)
    elif label == "no_digital_signature":
        issued = pki.issue(label, digital_signature=False)
    elif label == "other_ca":
        other = TestPki(NOW, name="Other")
        issued = other.issue(label)
        chain = [other.intermediate.pem]
    elif label == "rsa1024":
        issued = pki.issue(label, key=rsa.generate_private_key(65537, 1024))  # noqa: S505 - refused
    elif label == "p521":
        issued = pki.issue(label, key=ec.generate_private_key(ec.SECP521R1()))
    else:
        issued = pki.issue(label)
        crls = add_crl(revocation.crls, pki.crl((issued.cert,)), pki.intermediate.cert, now=NOW)
        rev = Revocation(crls=crls)
    with pytest.raises(CertificateRejected) as caught:
        enrol_certificate(P, issued.pem, intermediates=chain, trust=trust, revocation=rev, now=NOW)
    assert caught.value.reason == reason
    assert caught.value.code == "certificate_rejected"


def test_missing_intermediate_is_refused(pki: TestPki, trust: TrustSettings, good: Issued) -> None:
    with pytest.raises(CertificateRejected, match="chain"):
        verify_chain(good.cert, (), trust=trust, now=NOW)


def test_signature_algorithm_allow_list(pki: TestPki, good: Issued) -> None:
    rsa_only = TrustSettings(
        anchors=(pki.root.cert,),
        signature_algorithms=frozenset({SignatureAlgorithmOID.RSA_WITH_SHA256}),
    )
    with pytest.raises(CertificateRejected) as caught:
        verify_chain(good.cert, (pki.intermediate.cert,), trust=rsa_only, now=NOW)
    assert caught.value.reason == "signature_algorithm"
    with pytest.raises(ConfigurationError):
        TrustSettings(
            anchors=(pki.root.cert,),
            signature_algorithms=frozenset({SignatureAlgorithmOID.RSA_WITH_SHA1}),
        )
    with pytest.raises(ConfigurationError):
        TrustSettings(anchors=())


def test_trust_from_pem_bundle(pki: TestPki, good: Issued) -> None:
    trust = TrustSettings.from_pem(pki.root.pem)
    identity = verify_chain(good.cert, (pki.intermediate.cert,), trust=trust, now=NOW)
    assert identity.chain == (good.cert, pki.intermediate.cert, pki.root.cert)
    assert "alice" in identity.subject
    with pytest.raises(ConfigurationError):
        TrustSettings.from_pem(b"garbage")


# --- revocation -----------------------------------------------------------------------------


def test_crl_signature_and_freshness_are_checked(pki: TestPki) -> None:
    other = TestPki(NOW, name="Other")
    forged = other.crl()
    with pytest.raises(CertificateRejected, match="bad_crl"):
        add_crl(CrlCache(), forged, pki.intermediate.cert, now=NOW)
    with pytest.raises(CertificateRejected, match="bad_crl"):
        add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW + timedelta(days=8))
    with pytest.raises(CertificateRejected, match="bad_crl"):
        add_crl(CrlCache(), b"junk", pki.intermediate.cert, now=NOW)


def test_crl_cache_expires_at_next_update(pki: TestPki, trust: TrustSettings, good: Issued) -> None:
    cache = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW)
    cache = add_crl(cache, pki.crl(issuer=pki.root), pki.root.cert, now=NOW)
    identity = verify_chain(good.cert, (pki.intermediate.cert,), trust=trust, now=NOW)
    assert revocation_status(identity, now=NOW, crls=cache) is RevocationStatus.GOOD
    later = NOW + timedelta(days=7)
    assert cache.current(pki.intermediate.cert, later) is None
    assert len(cache.expired(later)) == 2
    # an expired CRL is no evidence: fail closed by default, open only when told
    assert revocation_status(identity, now=later, crls=cache) is RevocationStatus.UNKNOWN
    assert (
        revocation_status(identity, now=later, crls=cache, policy=RevocationPolicy.FAIL_OPEN)
        is RevocationStatus.GOOD
    )


def test_ocsp_good_revoked_and_forged(pki: TestPki, trust: TrustSettings) -> None:
    issued = pki.issue("ocsp")
    identity = verify_chain(issued.cert, (pki.intermediate.cert,), trust=trust, now=NOW)
    good = {issued.cert.serial_number: pki.ocsp(issued.cert)}
    revoked = {issued.cert.serial_number: pki.ocsp(issued.cert, revoked=True)}
    leaf_only = ("leaf",)
    assert (
        revocation_status(identity, now=NOW, ocsp_responses=good, check=leaf_only)
        is RevocationStatus.GOOD
    )
    assert (
        revocation_status(identity, now=NOW, ocsp_responses=revoked, check=leaf_only)
        is RevocationStatus.REVOKED
    )
    # signed by a key the issuer never delegated to
    other = TestPki(NOW, name="Other")
    forged = {issued.cert.serial_number: pki.ocsp(issued.cert, signer=other.intermediate)}
    with pytest.raises(CertificateRejected, match="bad_ocsp"):
        revocation_status(identity, now=NOW, ocsp_responses=forged, check=leaf_only)
    # stale response: unknown, which fails closed
    stale = NOW + timedelta(days=1)
    assert (
        revocation_status(identity, now=stale, ocsp_responses=good, check=leaf_only)
        is RevocationStatus.UNKNOWN
    )


def test_ocsp_from_a_delegated_responder(pki: TestPki, trust: TrustSettings) -> None:
    issued = pki.issue("delegated")
    identity = verify_chain(issued.cert, (pki.intermediate.cert,), trust=trust, now=NOW)
    responder = pki.issue("OCSP responder", ocsp_signing=True)
    answer = {issued.cert.serial_number: pki.ocsp(issued.cert, revoked=True, signer=responder)}
    status = revocation_status(identity, now=NOW, ocsp_responses=answer, check=("leaf",))
    assert status is RevocationStatus.REVOKED
    # a certificate of the issuer without id-kp-OCSPSigning may not answer
    not_a_responder = pki.issue("client", client_auth=True)
    forged = {issued.cert.serial_number: pki.ocsp(issued.cert, signer=not_a_responder)}
    with pytest.raises(CertificateRejected, match="may not sign OCSP"):
        revocation_status(identity, now=NOW, ocsp_responses=forged, check=("leaf",))


def test_revoked_by_ocsp_refuses_enrolment(pki: TestPki, trust: TrustSettings) -> None:
    issued = pki.issue("ocsp-revoked")
    rev = Revocation(
        ocsp={issued.cert.serial_number: pki.ocsp(issued.cert, revoked=True)},
        crls=add_crl(CrlCache(), pki.crl(issuer=pki.root), pki.root.cert, now=NOW),
    )
    with pytest.raises(CertificateRejected) as caught:
        enrol_certificate(
            P,
            issued.der,
            intermediates=[pki.intermediate.der],
            trust=trust,
            revocation=rev,
            now=NOW,
        )
    assert caught.value.reason == "revoked"


def test_no_revocation_source_fails_closed_by_default(
    pki: TestPki, trust: TrustSettings, good: Issued
) -> None:
    with pytest.raises(CertificateRejected) as caught:
        enrol_certificate(
            P, good.pem, intermediates=_chain(pki), trust=trust, revocation=Revocation(), now=NOW
        )
    assert caught.value.reason == "revocation_unknown"
    open_ = Revocation(policy=RevocationPolicy.FAIL_OPEN)
    credential, _ = enrol_certificate(
        P, good.pem, intermediates=_chain(pki), trust=trust, revocation=open_, now=NOW
    )
    assert credential.fingerprint


# --- challenge signature --------------------------------------------------------------------


def _verify(
    credential: CertCredential | None,
    challenge: CertChallenge | None,
    signature: bytes,
    trust: TrustSettings,
    rev: Revocation,
    *,
    lockout: LockoutState | None = None,
    principal: Principal = P,
    purpose: str = "login",
    audience: str = AUD,
    digest: str | None = None,
    now: datetime = NOW + timedelta(seconds=5),
    path: str = "login",
    method: AuthMethod = CERTIFICATE,
) -> CertVerdict:
    return verify_cert_challenge(
        credential,
        challenge,
        lockout or LockoutState(),
        principal,
        signature,
        purpose=purpose,
        audience=audience,
        digest=digest,
        trust=trust,
        revocation=rev,
        now=now,
        lockout_rules=RULES,
        path=path,
        method=method,
    )


@pytest.mark.parametrize("kind", ["p256", "p384", "rsa2048", "ed25519"])
def test_login_by_challenge_signature(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, kind: str
) -> None:
    keys: dict[str, Callable[[], KeyType]] = {
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }
    issued = pki.issue(kind, key=keys[kind]())
    credential = _enrol(pki, issued, trust, revocation)
    challenge = _challenge()
    verdict = _verify(credential, challenge, _sign(issued, challenge), trust, revocation)
    assert verdict.ok
    assert verdict.reason is None
    assert verdict.method is CERTIFICATE
    assert verdict.challenge is not None
    assert verdict.challenge.used_at is not None
    assert verdict.events[0].action == "login.certificate"
    # the consumed challenge cannot be replayed
    again = _verify(credential, verdict.challenge, _sign(issued, challenge), trust, revocation)
    assert again.outcome is Outcome.REJECTED
    assert again.reason is CertFailure.CHALLENGE_USED


def test_smartcard_method_and_refused_method(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    challenge = _challenge()
    verdict = _verify(
        credential, challenge, _sign(good, challenge), trust, revocation, method=SMARTCARD_PIN
    )
    assert verdict.ok
    assert verdict.method is SMARTCARD_PIN
    assert verdict.events[0].action == "login.smartcard_pin"
    with pytest.raises(ConfigurationError):
        _verify(credential, challenge, b"", trust, revocation, method=TOTP)


def test_failures_are_counted_and_consume_the_challenge(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    other_key = pki.issue("mallory")
    challenge = _challenge()
    cases: list[tuple[str, CertCredential | None, CertChallenge | None, bytes, dict[str, Any]]] = [
        ("bad_signature", credential, challenge, _sign(other_key, challenge), {}),
        ("other_user", credential, _challenge(OTHER), _sign(good, _challenge(OTHER)), {}),
        ("other_purpose", credential, challenge, _sign(good, challenge), {"purpose": "payee.add"}),
        (
            "other_audience",
            credential,
            challenge,
            _sign(good, challenge),
            {"audience": "https://evil.test"},
        ),
        (
            "expired",
            credential,
            challenge,
            _sign(good, challenge),
            {"now": NOW + timedelta(minutes=3)},
        ),
        ("unknown_challenge", credential, None, b"x", {}),
        ("not_enrolled", None, challenge, _sign(good, challenge), {}),
    ]
    expected = {
        "bad_signature": CertFailure.BAD_SIGNATURE,
        "other_user": CertFailure.WRONG_BINDING,
        "other_purpose": CertFailure.WRONG_BINDING,
        "other_audience": CertFailure.WRONG_BINDING,
        "expired": CertFailure.CHALLENGE_EXPIRED,
        "unknown_challenge": CertFailure.NO_CHALLENGE,
        "not_enrolled": CertFailure.NOT_ENROLLED,
    }
    for label, cred, chal, sig, kw in cases:
        verdict = _verify(cred, chal, sig, trust, revocation, **kw)
        assert verdict.outcome is Outcome.REJECTED, label
        assert verdict.reason is expected[label], label
        assert verdict.lockout.failures == 1, label
        assert verdict.method is None
        assert ("reason", expected[label].value) in verdict.events[0].details, label
        if chal is not None:
            assert verdict.challenge is not None
            assert verdict.challenge.used_at is not None


def test_step_up_is_bound_to_the_operation_digest(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    payment = Payment(Money.parse("1250.50", "EUR"), "FR7630006000011234567890189")
    changed = Payment(Money.parse("9250.50", "EUR"), "FR7630006000011234567890189")
    challenge = _challenge(purpose="payment.initiate", digest=payment.digest)
    sig = _sign(good, challenge)
    ok = _verify(
        credential,
        challenge,
        sig,
        trust,
        revocation,
        purpose="payment.initiate",
        digest=payment.digest,
        path="step_up",
    )
    assert ok.ok
    assert ok.events[0].action == "step_up.certificate"
    bad = _verify(
        credential,
        challenge,
        sig,
        trust,
        revocation,
        purpose="payment.initiate",
        digest=changed.digest,
        path="step_up",
    )
    assert bad.reason is CertFailure.WRONG_BINDING


def test_revoked_mid_session(pki: TestPki, trust: TrustSettings, revocation: Revocation) -> None:
    issued = pki.issue("bob")
    credential = _enrol(pki, issued, trust, revocation)
    first = _challenge()
    assert _verify(credential, first, _sign(issued, first), trust, revocation).ok
    crls = add_crl(revocation.crls, pki.crl((issued.cert,)), pki.intermediate.cert, now=NOW)
    second = _challenge()
    verdict = _verify(credential, second, _sign(issued, second), trust, Revocation(crls=crls))
    assert verdict.reason is CertFailure.REVOKED
    assert verdict.outcome is Outcome.REJECTED
    # and an expired certificate stops working at its notAfter
    late = NOW + timedelta(days=366)
    third = replace(_challenge(), issued_at=late, expires_at=late + timedelta(minutes=1))
    verdict = _verify(credential, third, _sign(issued, third), trust, revocation, now=late)
    assert verdict.reason in (CertFailure.CERTIFICATE_INVALID, CertFailure.REVOCATION_UNKNOWN)


def test_lockout_blocks_after_the_limit(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    lockout = LockoutState()
    for _ in range(RULES.max_failures):
        challenge = _challenge()
        verdict = _verify(credential, challenge, b"\x30\x00", trust, revocation, lockout=lockout)
        lockout = verdict.lockout
    assert verdict.outcome is Outcome.BLOCKED
    challenge = _challenge()
    blocked = _verify(
        credential, challenge, _sign(good, challenge), trust, revocation, lockout=lockout
    )
    assert blocked.outcome is Outcome.BLOCKED
    assert not blocked.ok
    assert blocked.challenge is not None
    assert blocked.challenge.used_at is not None


def test_challenge_validation() -> None:
    with pytest.raises(ConfigurationError):
        issue_cert_challenge(
            P,
            challenge_id="c",
            nonce=new_nonce(),
            purpose="login",
            audience=AUD,
            now=NOW,
            lifetime=timedelta(hours=1),
        )
    with pytest.raises(MalformedInput):
        issue_cert_challenge(
            P, challenge_id="c", nonce=b"short", purpose="login", audience=AUD, now=NOW
        )
    with pytest.raises(MalformedInput):
        issue_cert_challenge(
            P, challenge_id="c", nonce=new_nonce(), purpose="", audience=AUD, now=NOW
        )
    a, b = _challenge(), _challenge()
    assert a.payload() != b.payload()  # the nonce differs
    assert replace(a, purpose="x").payload() != a.payload()


# --- mutual TLS through a reverse proxy ------------------------------------------------------


def test_certificate_forwarded_by_a_trusted_proxy(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    proxies = ProxyTrust(proxies=frozenset({"proxy-a"}))
    forwarded = quote(good.pem.decode())
    cert = certificate_from_proxy(forwarded, proxy_identity="proxy-a", proxy_trust=proxies)
    assert cert == good.cert
    verdict = verify_presented_certificate(
        credential,
        cert,
        LockoutState(),
        P,
        trust=trust,
        revocation=revocation,
        now=NOW,
        lockout_rules=RULES,
    )
    assert verdict.ok
    assert verdict.method is CERTIFICATE
    for identity in (None, "proxy-b"):
        with pytest.raises(CertificateRejected, match="untrusted_proxy"):
            certificate_from_proxy(forwarded, proxy_identity=identity, proxy_trust=proxies)
    with pytest.raises(CertificateRejected, match="untrusted_proxy"):
        certificate_from_proxy(forwarded, proxy_identity="proxy-a", proxy_trust=ProxyTrust())
    other = pki.issue("someone-else")
    refused = verify_presented_certificate(
        credential,
        other.cert,
        LockoutState(),
        P,
        trust=trust,
        revocation=revocation,
        now=NOW,
        lockout_rules=RULES,
    )
    assert refused.reason is CertFailure.NOT_ENROLLED_CERTIFICATE
    assert refused.lockout.failures == 1
    assert good.cert.public_bytes(Encoding.DER) == credential.der


def test_concurrent_uses_of_one_challenge_succeed_once(
    pki: TestPki, trust: TrustSettings, revocation: Revocation, good: Issued
) -> None:
    credential = _enrol(pki, good, trust, revocation)
    challenge = _challenge()
    signature = _sign(good, challenge)
    cell: Cell[tuple[CertChallenge | None, LockoutState]] = Cell((challenge, LockoutState()))

    def decide(
        state: tuple[CertChallenge | None, LockoutState],
    ) -> tuple[bool, tuple[CertChallenge | None, LockoutState]]:
        stored, lockout = state
        verdict = _verify(credential, stored, signature, trust, revocation, lockout=lockout)
        return verdict.ok, (verdict.challenge, verdict.lockout)

    assert race(8, lambda: commit_loop(cell, decide)) == 1
    stored, lockout = cell.value
    assert stored is not None
    assert stored.used_at is not None
    # the seven replays counted: five reached the limit and blocked, two were refused
    assert lockout.temporary_blocks == 1


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_altered_payload_byte_is_refused(position: int, flip: int) -> None:
    pki = _SHARED_PKI
    challenge = _challenge()
    payload = bytearray(challenge.payload())
    payload[position % len(payload)] ^= flip
    key = _SHARED_USER.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    forged = key.sign(bytes(payload), ec.ECDSA(hashes.SHA256()))
    verdict = _verify(_SHARED_CREDENTIAL, challenge, forged, _SHARED_TRUST, _SHARED_REVOCATION)
    assert verdict.reason is CertFailure.BAD_SIGNATURE
    assert pki.root.cert in _SHARED_TRUST.anchors


_SHARED_PKI = TestPki(NOW, name="Property")
_SHARED_USER = _SHARED_PKI.issue("property")
_SHARED_TRUST = TrustSettings(anchors=(_SHARED_PKI.root.cert,))
_SHARED_REVOCATION = Revocation(policy=RevocationPolicy.FAIL_OPEN)
_SHARED_CREDENTIAL = enrol_certificate(
    P,
    _SHARED_USER.pem,
    intermediates=[_SHARED_PKI.intermediate.pem],
    trust=_SHARED_TRUST,
    revocation=_SHARED_REVOCATION,
    now=NOW,
)[0]
