"""A certificate as a step-up proof: the proof page's ``data-challenge`` (the library's
challenge bound to the operation and its digest, audience the portal's origin) signed with
the enrolled certificate's key (the library's testing PKI standing in for the signing
agent), posted as ``static/js/certificate.js`` does; another key, or a challenge of another
operation, is refused."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.clock import FixedClock
from securebox_auth.factors.certificate import Revocation
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.testing.pki import Issued, TestPki
from securebox_server.app import create_app
from tests.server.boxes import build_box, enrol_client_certificate
from tests.server.conftest import open_user, token
from tests.server.stepup.conftest import ORIGIN, World
from tests.server.stepup.test_flows import IBAN, TRANSFER

CHALLENGE = re.compile(r'data-challenge="([^"]*)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]*)"')


@dataclass
class CertWorld:
    world: World
    key: Issued


@pytest.fixture
def cert_world(tmp_path: Path, stepup_sqlite: Path) -> Iterator[CertWorld]:
    now: datetime = FixedClock().now()
    pki = TestPki(now)
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    certificates = CertificateSettings(trust, Revocation(crls=crls))
    built = build_box(
        tmp_path, stepup_sqlite, {"public_url": ORIGIN}, issuer=ORIGIN, certificates=certificates
    )
    box, clock = built.box, built.clock
    assert clock.now() == now
    principal, _ = open_user(box)
    user = pki.issue("user-01")
    enrol_client_certificate(box, principal, pki, user, certificates, now)
    app = create_app(built.settings, securebox=box, keys=built.keys)
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    client.headers["Accept-Language"] = "en"
    try:
        world = World(client, box, clock, principal, None, None, built.url)  # type: ignore[arg-type]
        yield CertWorld(world, user)
    finally:
        client.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _page(world: World, order: str) -> tuple[str, bytes, str]:
    page = world.client.get(f"/operations/{order}/proof/certificate")
    assert page.status_code == 200, page.text
    found, ceremony = CHALLENGE.search(page.text), CEREMONY.search(page.text)
    assert found is not None
    assert ceremony is not None
    payload = base64.urlsafe_b64decode(html.unescape(found.group(1)) + "==")
    return page.text, payload, ceremony.group(1)


def _post(world: World, order: str, text: str, ceremony: str, signature: bytes) -> Response:
    done: Response = world.client.post(
        f"/operations/{order}/proof/certificate",
        data={
            "ceremony": ceremony,
            "signature": _b64(signature),
            "certificate": "",
            "csrf_token": token(text),
        },
        follow_redirects=False,
    )
    return done


def _sign(key: Issued, payload: bytes) -> bytes:
    private = key.key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return private.sign(payload, ec.ECDSA(hashes.SHA256()))


def test_a_transfer_approved_by_a_certificate(cert_world: CertWorld) -> None:
    world = cert_world.world
    world.login()
    order, approval = world.enter("/transfers/new", TRANSFER)
    assert f"/operations/{order}/proof/certificate" in approval.text
    text, payload, ceremony = _page(world, order)
    assert "data-securebox-certificate" in text
    assert ORIGIN.encode() in payload  # the audience the agent checks
    done = _post(world, order, text, ceremony, _sign(cert_world.key, payload))
    assert done.status_code == 303, done.text
    result = world.execute(order)
    assert result.status_code == 200, result.text
    assert "1250.50 EUR" in result.text


def test_another_key_or_another_operation_is_refused(cert_world: CertWorld) -> None:
    world = cert_world.world
    world.login()
    first, _ = world.enter("/transfers/new", TRANSFER)
    text, payload, ceremony = _page(world, first)
    other = ec.generate_private_key(ec.SECP256R1())
    refused = _post(world, first, text, ceremony, other.sign(payload, ec.ECDSA(hashes.SHA256())))
    assert refused.status_code == 401, refused.text
    second, _ = world.enter("/payees/new", {"name": "Dupont SARL", "iban": IBAN})
    text, payload, ceremony = _page(world, first)
    # the first operation's challenge, rightly signed, offered for the second
    crossed = _post(world, second, text, ceremony, _sign(cert_world.key, payload))
    assert crossed.status_code in (400, 401), crossed.text
    assert "/execute" not in world.client.get(f"/operations/{second}").text
    assert world.book().payees(world.principal) == []
