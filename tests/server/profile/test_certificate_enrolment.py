"""Certificate enrolment from the profile, through the real page and the real signing agent
in front of a SoftHSM2 token: a recent strong login (code + TOTP) opens the form; the agent
signs the page's ``certificate.enrol`` challenge and its answer (signature and the token's
certificate) is posted as ``static/js/certificate.js`` does; the certificate is stored, and
the next login with it succeeds. A simple session, a replayed challenge, a certificate from
no accepted authority and a signature by another key are refused, and nothing is stored.

The token and agent fixtures are those of ``tests/cards`` (they skip without softhsm2 or
python-pkcs11, and fail in CI)."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.factors.x509_trust import TrustSettings
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores import factor_codecs as fc
from securebox_server.app import create_app
from securebox_server.settings import Settings
from tests.cards.agent_support import ORIGIN, Agent, b64decode, start_agent
from tests.cards.test_pkcs11_softhsm import LABEL, PIN, SOFTHSM_MODULE, Token, token
from tests.server.conftest import CLIENT, CODE, open_user
from tests.server.conftest import token as csrf

__all__ = ["token"]

pytestmark = pytest.mark.slow  # a SoftHSM2 token and the agent process (~2 s)

FORM = re.compile(r'<form method="post" action="/profile/certificates/add" ([^>]*)>')
CHALLENGE = re.compile(r'data-challenge="([^"]*)"')
CHALLENGE_ID = re.compile(r'name="challenge" value="([^"]*)"')


@pytest.fixture(scope="module")
def agent(token: Token) -> Iterator[Agent]:
    running = start_agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL])
    yield running
    assert PIN not in running.stop()


class Portal:
    def __init__(self, client: TestClient, box: Securebox, clock: FixedClock) -> None:
        self.client, self.box, self.clock = client, box, clock
        self.principal, _ = open_user(box)
        enrolled = box.enrol_first_totp(Operator("back-office"), self.principal)
        self.totp: TotpCredential = enrolled.credential
        assert box.confirm_totp(self.principal, code_at(self.totp, clock.now()))

    def login(self, *, strong: bool) -> None:
        c = self.client
        c.cookies.clear()
        # a renewal older than the account is ignored: the login then asks a second factor
        renewed = self.clock.now() - (timedelta(days=200) if strong else timedelta(0))
        self.box.store.commit([self.box.factors.renewal_change(self.principal, "web", renewed)], [])
        page = c.get("/login")
        page = c.post("/login", data={"client_id": CLIENT, "csrf_token": csrf(page.text)})
        c.post(
            "/login/user",
            data={"client_id": CLIENT, "user_number": "01", "csrf_token": csrf(page.text)},
        )
        page = c.get("/login/code")
        done = c.post(
            "/login/code",
            data={"code": CODE, "csrf_token": csrf(page.text)},
            follow_redirects=False,
        )
        if strong:
            self.clock.advance(timedelta(seconds=30))
            page = c.get("/login/totp")
            done = c.post(
                "/login/totp",
                data={"code": code_at(self.totp, self.clock.now()), "csrf_token": csrf(page.text)},
                follow_redirects=False,
            )
        assert done.headers.get("location") == "/home", done.text

    def stored(self) -> object:
        found = self.box.store.get_factor_state(self.principal, fc.CERTIFICATE, "default")
        return None if found is None else found.value

    def post(self, page: str, signature: bytes, certificate: bytes) -> object:
        challenge = CHALLENGE_ID.search(page)
        assert challenge is not None, page
        form = {
            "challenge": challenge.group(1),
            "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
            "certificate": base64.urlsafe_b64encode(certificate).rstrip(b"=").decode(),
            "csrf_token": csrf(page),
        }
        return self.client.post("/profile/certificates/add", data=form, follow_redirects=False)


@pytest.fixture
def portal(token: Token, tmp_path: Path, migrated_sqlite: Path) -> Iterator[Portal]:
    """The server at ``ORIGIN`` trusting the token's authority; user 01 has a code and a
    TOTP application, no certificate."""
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/server.db", public_url=ORIGIN, demo=True
    )
    keys = DerivedKeys.generate()
    store = open_sql_store(settings.database_url, audit_keys=keys.audit_keyring(), migrate=False)
    clock = FixedClock(token.pki.now)
    # as the server's ``certificate_anchors`` bundle does, the issuing CA is an anchor: the
    # token holds its certificate alone
    trust = TrustSettings(anchors=(token.pki.root.cert, token.pki.intermediate.cert))
    box = Securebox.from_policy(
        settings.policy, store=store, keys=keys, clock=clock, argon2=PROFILE_TESTING,
        issuer=settings.origin, certificates=CertificateSettings(trust, token.revocation),
    )  # fmt: skip
    client = TestClient(
        create_app(settings, securebox=box, keys=keys), base_url=ORIGIN,
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    with client:
        yield Portal(client, box, clock)


def test_the_agent_enrols_the_token_certificate_and_it_then_logs_in(
    agent: Agent, token: Token, portal: Portal
) -> None:
    portal.login(strong=True)
    listing = portal.client.get("/profile/certificates")
    assert "No certificate is enrolled." in listing.text
    assert 'href="/profile/certificates/add"' in listing.text
    page = portal.client.get("/profile/certificates/add")
    assert page.status_code == 200, page.text
    assert FORM.search(page.text) is not None
    assert '<script src="/static/js/certificate.js" defer></script>' in page.text
    found = CHALLENGE.search(page.text)
    assert found is not None
    agent.pin(PIN)
    status, answer = agent.sign(b64decode(found.group(1)))  # the agent checks the audience
    assert status == 200, answer
    done = portal.post(page.text, b64decode(answer["signature"]), b64decode(answer["certificate"]))
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    assert done.headers["location"] == "/profile/certificates?enrolled=1"  # type: ignore[attr-defined]
    shown = portal.client.get("/profile/certificates?enrolled=1")
    assert token.credential.fingerprint in shown.text
    assert "Your certificate is enrolled." in shown.text
    actions = [s.event.action for s in portal.box.audit_log(CLIENT)]
    assert "certificate.enrol" in actions
    # the same challenge again: consumed
    again = portal.post(page.text, b64decode(answer["signature"]), b64decode(answer["certificate"]))
    assert again.status_code == 400  # type: ignore[attr-defined]
    # the next login uses it
    c = portal.client
    c.cookies.clear()
    page = c.get("/login")
    page = c.post("/login", data={"client_id": CLIENT, "csrf_token": csrf(page.text)})
    c.post(
        "/login/user",
        data={"client_id": CLIENT, "user_number": "01", "csrf_token": csrf(page.text)},
    )
    login = c.get("/login/certificate")
    challenge = CHALLENGE.search(login.text)
    assert challenge is not None
    agent.pin(PIN)
    status, answer = agent.sign(b64decode(challenge.group(1)))
    assert status == 200, answer
    form = {
        "challenge": CHALLENGE_ID.search(login.text).group(1),  # type: ignore[union-attr]
        "signature": str(answer["signature"]),
        "csrf_token": csrf(login.text),
    }
    logged = c.post("/login/certificate", data=form, follow_redirects=False)
    assert logged.headers.get("location") == "/home", logged.text


def _self_signed() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mallory")])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=36500))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(Encoding.DER)


def test_a_simple_session_a_foreign_certificate_and_another_key_are_refused(
    token: Token, portal: Portal
) -> None:
    portal.login(strong=False)
    refused = portal.client.get("/profile/certificates/add")
    assert refused.status_code == 403
    assert "needs a recent strong authentication" in refused.text
    portal.login(strong=True)
    page = portal.client.get("/profile/certificates/add")
    payload = b64decode(CHALLENGE.search(page.text).group(1))  # type: ignore[union-attr]
    key, foreign = _self_signed()  # signed by its own key, but from no accepted authority
    own = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    answer = portal.post(page.text, own, foreign)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "was not enrolled" in answer.text  # type: ignore[attr-defined]
    page = portal.client.get("/profile/certificates/add")
    payload = b64decode(CHALLENGE.search(page.text).group(1))  # type: ignore[union-attr]
    other = key.sign(payload, ec.ECDSA(hashes.SHA256()))  # the token's certificate, another key
    wrong = portal.post(page.text, other, token.credential.der)
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    garbage = portal.client.post(
        "/profile/certificates/add",
        data={
            "challenge": "x",
            "signature": "***",
            "certificate": "%",
            "csrf_token": csrf(page.text),
        },
    )
    assert garbage.status_code == 400
    assert portal.stored() is None
