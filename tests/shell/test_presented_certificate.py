"""``PresentedCertificateAnswer``: the client certificate of a mutual-TLS handshake,
forwarded by a trusted proxy, answers a login through ``answer_login`` (the enrolled
certificate, chained and not revoked); another certificate is refused and counted; a
step-up refuses it (it is not bound to the operation)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import CertificateSettings, LoginState, OperationRequest
from securebox_auth.errors import FlowOutOfOrder
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.lockout.rules import Element
from securebox_auth.shell.answers import PresentedCertificateAnswer
from securebox_auth.shell.securebox import Securebox
from securebox_auth.testing.pki import Issued, TestPki
from tests.cards.agent_support import portal
from tests.shell.portal import CLIENT, T0, user


def _world() -> tuple[TestPki, Issued, Securebox]:
    pki = TestPki(T0)
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=T0)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=T0)
    revocation = Revocation(crls=crls)
    alice = pki.issue("alice")
    credential, _ = enrol_certificate(
        user(1), alice.pem, intermediates=[pki.intermediate.pem], trust=trust,
        revocation=revocation, now=T0 - timedelta(seconds=1),
    )  # fmt: skip
    return pki, alice, portal(credential, CertificateSettings(trust, revocation))


def test_the_enrolled_certificate_logs_in_and_another_is_refused() -> None:
    pki, alice, box = _world()
    page = box.start_login(CLIENT, "01")
    refused = box.answer_login(page.handle, PresentedCertificateAnswer(pki.issue("bob").cert))
    assert refused.rejected
    assert box.store.get_lockout(user(1)).value.series(Element.CERTIFICATE).failures == 1
    done = box.answer_login(page.handle, PresentedCertificateAnswer(alice.cert))
    assert done.state is LoginState.DONE, done.explain()
    assert done.session_id is not None
    assert box.live_session(done.session_id).value.strong  # certificate: two categories
    payee = OperationRequest("payee_management", payee="FR7630001007941234567890185")
    up = box.start_step_up(done.session_id, payee)
    with pytest.raises(FlowOutOfOrder):
        box.prove_step_up(done.session_id, up.handle, PresentedCertificateAnswer(alice.cert))
