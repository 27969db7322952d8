"""A login with a certificate (a PKCS#11 token or a smart card) through the entry point: the
flow offers the certificate, issues a challenge, and a signature by the enrolled
certificate's key over that challenge opens a strong session; a signature by another key,
or over another challenge, does not, and counts against the certificate element. A recovery
code is never enough at the first access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth import (
    PROFILE_TESTING,
    CertificateAnswer,
    CertificateSettings,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    FlowError,
    LoginState,
    Operator,
    RecoveryAnswer,
    Securebox,
)
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.lockout.rules import Element
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.testing.pki import Issued, TestPki
from tests.shell.portal import CLIENT, CODE, MASTER, T0, Phone, portal_policy, user


@pytest.fixture
def pki() -> TestPki:
    return TestPki(T0 - timedelta(days=1))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def alice(pki: TestPki) -> Issued:
    return pki.issue("alice")


@pytest.fixture
def box(contract_store: AuthStore, clock: FixedClock, pki: TestPki, alice: Issued) -> Securebox:
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=T0)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=T0)
    settings = CertificateSettings(TrustSettings(anchors=(pki.root.cert,)), Revocation(crls=crls))
    box = Securebox.from_policy(
        portal_policy(),
        store=contract_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": Phone()},
        argon2=PROFILE_TESTING,
        certificates=settings,
    )
    who = user(1)
    first = box.codes.create_subscription(Operator("back-office"), who)
    assert box.codes.change_code(CLIENT, "01", first.reveal(), CODE).changed
    credential, event = enrol_certificate(
        who,
        alice.pem,
        intermediates=[pki.intermediate.pem],
        trust=settings.trust,
        revocation=settings.revocation,
        now=T0,
    )
    box.factors.put_state(
        who, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential), (event,)
    )
    return box


def _sign(issued: Issued, payload: bytes) -> bytes:
    key = issued.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.sign(payload, ec.ECDSA(hashes.SHA256()))


def test_a_certificate_signature_opens_a_strong_session(
    box: Securebox, alice: Issued, clock: FixedClock
) -> None:
    page = box.start_login(CLIENT, "01")
    assert "certificate" in page.offered
    challenge = box.login_certificate_challenge(page.handle)
    signature = _sign(alice, challenge.payload())
    page = box.answer_login(page.handle, CertificateAnswer(challenge.challenge_id, signature))
    assert page.done, page.explain()
    assert page.session_id is not None
    assert box.live_session(page.session_id).value.strong
    assert box.factors.last_sca(user(1), "web") == clock.now()


def test_another_key_or_another_challenge_is_refused_and_counted(
    box: Securebox, pki: TestPki, alice: Issued
) -> None:
    mallory = pki.issue("mallory")
    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    forged = _sign(mallory, challenge.payload())
    page = box.answer_login(page.handle, CertificateAnswer(challenge.challenge_id, forged))
    assert page.state is not LoginState.DONE
    assert box.store.get_lockout(user(1)).value.series(Element.CERTIFICATE).failures == 1

    page = box.start_login(CLIENT, "01")
    challenge = box.login_certificate_challenge(page.handle)
    other = _sign(alice, challenge.payload() + b"!")
    page = box.answer_login(page.handle, CertificateAnswer(challenge.challenge_id, other))
    assert page.state is not LoginState.DONE
    assert box.store.get_lockout(user(1)).value.series(Element.CERTIFICATE).failures == 2


def test_a_recovery_code_does_not_complete_a_first_access(box: Securebox) -> None:
    """The code proves knowledge; a recovery code is knowledge again and never strong, so it
    is not offered to complete the first-access rule (RTS art. 10(2)(a)), and answering the
    flow with one is refused."""
    codes = box.factors.recovery.generate(user(1)).reveal()
    page = box.start_login(CLIENT, "01")
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    assert page.session_id is None
    assert page.state is LoginState.SECOND_FACTOR
    assert "certificate" in page.offered
    assert "recovery_code" not in page.offered
    with pytest.raises(FlowError):
        box.answer_login(page.handle, RecoveryAnswer(codes[0]))
