"""Certificate login through the real page and the real signing agent in front of a
SoftHSM2 token: the page's ``data-challenge`` is what the agent signs (its audience the
portal's public origin, which the agent checks), and its answer is posted in the page's form
as ``static/js/certificate.js`` does. A signature by another key is refused and counted.

The token and agent fixtures are those of ``tests/cards`` (they skip without softhsm2 or
python-pkcs11, and fail in CI).
"""

from __future__ import annotations

import base64
import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import Element
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores import factor_codecs as fc
from securebox_server.app import create_app
from securebox_server.settings import Settings
from tests.cards.agent_support import ORIGIN, Agent, b64decode, start_agent
from tests.cards.test_pkcs11_softhsm import LABEL, PIN, SOFTHSM_MODULE, Token, token
from tests.server.conftest import identify, open_user
from tests.server.conftest import token as csrf

__all__ = ["token"]

pytestmark = pytest.mark.slow  # a SoftHSM2 token and the agent process (~2 s)

FORM = re.compile(r'<form method="post" action="/login/certificate" ([^>]*)>')
CHALLENGE_ID = re.compile(r'name="challenge" value="([^"]*)"')
PRINCIPAL = Principal.parse("123456789", "01")


@pytest.fixture(scope="module")
def agent(token: Token) -> Iterator[Agent]:
    running = start_agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL])
    yield running
    assert PIN not in running.stop()


@pytest.fixture
def portal(
    token: Token, tmp_path: Path, migrated_sqlite: Path
) -> Iterator[tuple[TestClient, Securebox]]:
    """The server at ``ORIGIN`` (its issuer) whose user 01 has the token's certificate."""
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/server.db", public_url=ORIGIN, demo=True
    )
    keys = DerivedKeys.generate()
    store = open_sql_store(settings.database_url, audit_keys=keys.audit_keyring(), migrate=False)
    box = Securebox.from_policy(
        settings.policy, store=store, keys=keys, clock=FixedClock(token.pki.now),
        argon2=PROFILE_TESTING, issuer=settings.origin,
        certificates=CertificateSettings(token.trust, token.revocation),
    )  # fmt: skip
    principal, _ = open_user(box)
    box.factors.put_state(
        principal, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(token.credential)
    )
    client = TestClient(create_app(settings, securebox=box, keys=keys), base_url=ORIGIN)
    with client:
        yield client, box


def attributes(text: str) -> dict[str, str]:
    found = FORM.search(text)
    assert found is not None, text
    pairs = re.findall(r'([a-z-]+)="([^"]*)"', found.group(1))
    return {name: html.unescape(value) for name, value in pairs}


def post(client: TestClient, page: str, signature: bytes, certificate: str = ""):  # type: ignore[no-untyped-def]
    challenge = CHALLENGE_ID.search(page)
    assert challenge is not None
    form = {
        "challenge": challenge.group(1),
        "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
        "certificate": certificate,
        "csrf_token": csrf(page),
    }
    return client.post("/login/certificate", data=form, follow_redirects=False)


def test_the_agent_signs_the_page_challenge_and_the_form_logs_in(
    agent: Agent, portal: tuple[TestClient, Securebox]
) -> None:
    client, box = portal
    identify(client)
    assert 'href="/login/certificate"' in client.get("/login/method").text
    page = client.get("/login/certificate")
    assert page.status_code == 200
    data = attributes(page.text)
    assert data["data-agent"] == "http://127.0.0.1:8731"  # the settings' default
    assert "connect-src 'self' http://127.0.0.1:8731" in page.headers["content-security-policy"]
    assert '<script src="/static/js/certificate.js" defer></script>' in page.text
    agent.pin(PIN)
    status, answer = agent.sign(b64decode(data["data-challenge"]))  # Origin: ORIGIN
    assert status == 200, answer
    done = post(client, page.text, b64decode(answer["signature"]), str(answer["certificate"]))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
    sessions = box.sessions_of(PRINCIPAL)
    assert len(sessions) == 1
    assert sessions[0][1].strong


def test_a_signature_by_another_key_is_refused_and_counted(
    portal: tuple[TestClient, Securebox],
) -> None:
    client, box = portal
    identify(client)
    page = client.get("/login/certificate")
    payload = b64decode(attributes(page.text)["data-challenge"])
    other = ec.generate_private_key(ec.SECP256R1())
    refused = post(client, page.text, other.sign(payload, ec.ECDSA(hashes.SHA256())))
    assert refused.status_code == 401
    assert 'href="#certificate-submit"' in refused.text
    assert box.store.get_lockout(PRINCIPAL).value.series(Element.CERTIFICATE).failures == 1
    garbage = client.post(
        "/login/certificate",
        data={"challenge": "x", "signature": "***", "csrf_token": csrf(refused.text)},
    )
    assert garbage.status_code == 400
