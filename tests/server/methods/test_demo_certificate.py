"""The demo's certificate material: ``seed(..., folder=)`` writes a CA, CRLs and a
certificate for user 01 (PEM, key, PKCS#12) and configures the server with them; a
signature by the demo key over the page's challenge logs user 01 in."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi.testclient import TestClient

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_server.app import create_app
from securebox_server.demo_certificate import P12_PASSWORD
from securebox_server.demo_data import seed
from securebox_server.settings import load_settings
from tests.server.conftest import identify, token

DATA = re.compile(r'data-challenge="([^"]*)"')
CHALLENGE = re.compile(r'name="challenge" value="([^"]*)"')


def test_the_demo_certificate_logs_user_01_in(tmp_path: Path) -> None:
    env = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "SECUREBOX_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "SECUREBOX_PUBLIC_URL": "http://localhost:8000",
        "SECUREBOX_DEMO": "true",
    }
    lines = seed(env, fast=True, folder=tmp_path)
    assert any("demo-01.p12" in line for line in lines)
    key, cert, _ = pkcs12.load_key_and_certificates(
        (tmp_path / "demo-01.p12").read_bytes(), P12_PASSWORD.encode()
    )
    assert cert is not None
    assert cert.public_bytes(serialization.Encoding.PEM) == (tmp_path / "demo-01.pem").read_bytes()
    assert oct((tmp_path / "demo-01.key").stat().st_mode & 0o777) == "0o600"
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    app = create_app(load_settings(env), argon2=PROFILE_TESTING)
    with TestClient(app, base_url="http://localhost:8000") as client:
        identify(client)
        page = client.get("/login/certificate")
        data, challenge = DATA.search(page.text), CHALLENGE.search(page.text)
        assert data is not None
        assert challenge is not None
        payload = base64.urlsafe_b64decode(data.group(1) + "=" * (-len(data.group(1)) % 4))
        signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        done = client.post(
            "/login/certificate",
            data={
                "challenge": challenge.group(1),
                "signature": base64.urlsafe_b64encode(signature).decode().rstrip("="),
                "csrf_token": token(page.text),
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/home"
