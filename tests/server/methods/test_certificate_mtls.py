"""Mutual-TLS certificate login end to end: a real nginx (``docs/deploy/nginx-mtls.conf``,
as in ``tests/server/test_mtls_nginx.py``) in front of a real uvicorn running ``create_app``
with the command line of ``securebox serve``, its settings from the environment (trusted
proxy 127.0.0.2, the client CAs and their CRLs). A browser presenting the enrolled
certificate logs in through nginx; the same certificate header sent straight to uvicorn,
even with an ``X-Forwarded-For`` naming the proxy, is ignored.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.testing.pki import Issued, TestPki
from securebox_server.cli import _uvicorn
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox, write_master_key
from tests.server.conftest import identify, open_user, token
from tests.server.nginx import (
    PROXY_ADDRESS,
    free_port,
    listening,
    nginx_binary,
    running_nginx,
    server_certificate,
    stop,
)
from tests.server.test_mtls_nginx import HEADER, Proxy

pytestmark = pytest.mark.slow  # nginx and a uvicorn process (~3 s)

SRC = str(Path(__file__).parents[3] / "src")
ALICE = Principal.parse("123456789", "01")


@dataclass
class Site:
    proxy: Proxy
    app_port: int
    alice: Issued

    def browser(self, issued: Issued | None) -> httpx.Client:
        return httpx.Client(
            base_url=f"https://localhost:{self.proxy.port}",
            verify=self.proxy.client(issued),
            timeout=20,
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Site]:
    nginx = nginx_binary()
    tmp = tmp_path_factory.mktemp("mtls-login")
    now = datetime.now(UTC)
    pki = TestPki(now)
    server_certificate(tmp, now)
    (tmp / "client-ca.pem").write_bytes(pki.root.pem + pki.intermediate.pem)
    (tmp / "client.crl").write_bytes(pki.crl())
    (tmp / "root.crl").write_bytes(pki.crl(issuer=pki.root))
    shutil.copyfile(migrated_sqlite, tmp / "server.db")
    write_master_key(tmp / "master.key")
    app_port, port = free_port(), free_port()
    env = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{tmp}/server.db",
        "SECUREBOX_MASTER_KEY_FILE": str(tmp / "master.key"),
        "SECUREBOX_PUBLIC_URL": f"https://localhost:{port}",
        "SECUREBOX_TRUSTED_PROXIES": PROXY_ADDRESS,
        "SECUREBOX_CERTIFICATE_ANCHORS": str(tmp / "client-ca.pem"),
        "SECUREBOX_CERTIFICATE_CRLS": f"{tmp}/client.crl,{tmp}/root.crl",
    }
    # the subscription and its certificate, written before the server starts
    box = build_securebox(load_settings(env), argon2=PROFILE_TESTING)
    open_user(box)
    alice = pki.issue("alice")
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    credential, _ = enrol_certificate(
        ALICE, alice.pem, intermediates=[pki.intermediate.pem], trust=trust,
        revocation=Revocation(crls=crls), now=now,
    )  # fmt: skip
    box.factors.put_state(ALICE, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential))
    log = tmp / "uvicorn.out"
    with log.open("wb") as out:
        app = subprocess.Popen(  # noqa: S603 - the serve command line, loopback only
            _uvicorn("127.0.0.1", app_port, 1),
            env={**os.environ, **env, "PYTHONPATH": SRC},
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        listening(app, app_port, log, "uvicorn", 30)
        with running_nginx(nginx, tmp, port, app_port):
            yield Site(Proxy(port, app_port, pki, tmp / "server.pem", tmp, []), app_port, alice)
    finally:
        stop(app)
        assert "Traceback" not in log.read_text()


def test_the_certificate_presented_to_nginx_logs_in(site: Site) -> None:
    with site.browser(site.alice) as browser:
        identify(browser)  # type: ignore[arg-type]  # an httpx client, like TestClient
        page = browser.get("/login/certificate")
        assert page.status_code == 200
        assert 'action="/login/certificate/tls"' in page.text
        done = browser.post("/login/certificate/tls", data={"csrf_token": token(page.text)})
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/home"
        assert browser.get("/home").status_code == 200


def test_another_certificate_of_the_ca_is_refused(site: Site) -> None:
    with site.browser(site.proxy.pki.issue("mallory")) as browser:
        identify(browser)  # type: ignore[arg-type]
        page = browser.get("/login/certificate")
        assert 'action="/login/certificate/tls"' in page.text  # a certificate, not hers
        refused = browser.post("/login/certificate/tls", data={"csrf_token": token(page.text)})
        assert refused.status_code == 401


def test_a_forged_header_sent_straight_to_uvicorn_is_ignored(site: Site) -> None:
    with site.browser(None) as browser:
        identify(browser)  # type: ignore[arg-type]  # no certificate: no TLS offer
        assert 'action="/login/certificate/tls"' not in browser.get("/login/certificate").text
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    forged = {
        HEADER: quote(site.alice.pem.decode()),
        "X-Forwarded-For": PROXY_ADDRESS,
        "Cookie": cookie,
    }
    with httpx.Client(base_url=f"http://127.0.0.1:{site.app_port}", timeout=20) as direct:
        page = direct.get("/login/certificate", headers=forged)
        assert page.status_code == 200
        assert 'action="/login/certificate/tls"' not in page.text
        answer = direct.post(
            "/login/certificate/tls", data={"csrf_token": token(page.text)}, headers=forged
        )
        assert answer.status_code == 400
        assert "location" not in answer.headers
