"""Mutual TLS through a real nginx (Debian's ``nginx-light``) running
``docs/deploy/nginx-mtls.conf``: nginx verifies the client certificate against the test CA
and forwards it to a small upstream that applies
:func:`securebox_server.certificates.forwarded.forwarded_certificate`. A client with a
certificate is seen, one without is not; a header forged by a direct client is ignored, one
forged through nginx is replaced or dropped; the forwarded certificate passes the library's
certificate login check.

nginx runs in the foreground from a configuration in ``tmp_path`` on a free loopback port
and is stopped by its process id. Without nginx the tests skip with the reason, except in
CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, Final
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from securebox_auth.factors.certificate import (
    Revocation,
    enrol_certificate,
    verify_presented_certificate,
)
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl, fingerprint
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules, LockoutState
from securebox_auth.testing.pki import Issued, TestPki
from securebox_server.certificates.forwarded import (
    ForwardedSettings,
    forwarded_certificate,
    parse_networks,
)
from tests.server.nginx import (
    PROXY_ADDRESS,
    free_port,
    nginx_binary,
    running_nginx,
    server_certificate,
)

HEADER: Final = "X-SSL-Client-Cert"
ALICE: Final = Principal.parse("123456789", "01")
Json = dict[str, object]


class _Upstream(BaseHTTPRequestHandler):
    """Answers what the forwarded-certificate rule made of the request."""

    settings: ClassVar[ForwardedSettings]
    seen: ClassVar[list[x509.Certificate]]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        found = forwarded_certificate(self.client_address[0], self.headers.items(), self.settings)
        if found.certificate is not None:
            self.seen.append(found.certificate)
        body = json.dumps(
            {
                "source": found.source.value,
                "fingerprint": fingerprint(found.certificate) if found.certificate else None,
                "peer": self.client_address[0],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Proxy:
    port: int
    upstream: int
    pki: TestPki
    server_ca: Path
    tmp: Path
    seen: list[x509.Certificate]

    def client(self, issued: Issued | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.server_ca))
        if issued is not None:
            key = self.tmp / f"{id(issued)}.key"
            key.write_bytes(
                issued.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            chain = self.tmp / f"{id(issued)}.pem"
            chain.write_bytes(issued.pem + self.pki.intermediate.pem)
            context.load_cert_chain(str(chain), str(key))
        return context

    def get(self, issued: Issued | None, forged: str | None = None) -> tuple[int, Json]:
        connection = http.client.HTTPSConnection(
            "localhost", self.port, context=self.client(issued), timeout=10
        )
        try:
            connection.request("GET", "/", headers={HEADER: forged} if forged else {})
            answer = connection.getresponse()
            raw = answer.read()
            return answer.status, json.loads(raw) if answer.status == 200 else {}
        finally:
            connection.close()

    def direct(self, forged: str) -> dict[str, object]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=10)
        try:
            connection.request("GET", "/", headers={HEADER: forged})
            return dict(json.loads(connection.getresponse().read()))
        finally:
            connection.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    now = datetime.now(UTC)
    pki = TestPki(now)
    server_certificate(tmp, now)
    (tmp / "client-ca.pem").write_bytes(pki.root.pem + pki.intermediate.pem)
    seen: list[x509.Certificate] = []
    handler = type(
        "Upstream",
        (_Upstream,),
        {"settings": ForwardedSettings(trusted_proxies=parse_networks([PROXY_ADDRESS])),
         "seen": seen},
    )  # fmt: skip
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    port, upstream_port = free_port(), int(upstream.server_address[1])
    try:
        with running_nginx(nginx, tmp, port, upstream_port):
            yield Proxy(port, upstream_port, pki, tmp / "server.pem", tmp, seen)
    finally:
        upstream.shutdown()
        upstream.server_close()


def _escaped(issued: Issued) -> str:
    return quote(issued.pem.decode())


def test_a_client_certificate_is_forwarded_and_logs_in(proxy: Proxy) -> None:
    alice = proxy.pki.issue("alice")
    status, seen = proxy.get(alice)
    assert status == 200
    assert seen == {
        "source": "proxy", "fingerprint": fingerprint(alice.cert), "peer": PROXY_ADDRESS,
    }  # fmt: skip
    forwarded = proxy.seen[-1]
    # the parsed certificate is usable: the library's mTLS login accepts it
    now = datetime.now(UTC)
    trust = TrustSettings(anchors=(proxy.pki.root.cert,))
    crls = add_crl(CrlCache(), proxy.pki.crl(), proxy.pki.intermediate.cert, now=now)
    crls = add_crl(crls, proxy.pki.crl(issuer=proxy.pki.root), proxy.pki.root.cert, now=now)
    revocation = Revocation(crls=crls)
    credential, _ = enrol_certificate(
        ALICE, alice.pem, intermediates=[proxy.pki.intermediate.pem], trust=trust,
        revocation=revocation, now=now,
    )  # fmt: skip
    verdict = verify_presented_certificate(
        credential, forwarded, LockoutState(), ALICE, trust=trust, revocation=revocation,
        now=now, lockout_rules=LockoutRules(),
    )  # fmt: skip
    assert verdict.ok, verdict.reason


def test_a_client_without_certificate_is_not_seen(proxy: Proxy) -> None:
    assert proxy.get(None) == (200, {"source": "none", "fingerprint": None, "peer": PROXY_ADDRESS})


def test_a_forged_header_through_nginx_is_replaced_or_dropped(proxy: Proxy) -> None:
    alice, mallory = proxy.pki.issue("alice"), proxy.pki.issue("mallory")
    status, seen = proxy.get(None, forged=_escaped(alice))
    assert (status, seen["source"], seen["fingerprint"]) == (200, "none", None)
    status, seen = proxy.get(mallory, forged=_escaped(alice))
    assert (status, seen["fingerprint"]) == (200, fingerprint(mallory.cert))


def test_a_forged_header_sent_directly_is_ignored(proxy: Proxy) -> None:
    alice = proxy.pki.issue("alice")
    seen = proxy.direct(_escaped(alice))
    assert seen == {"source": "ignored", "fingerprint": None, "peer": "127.0.0.1"}


def test_a_certificate_of_another_ca_is_refused_by_nginx(proxy: Proxy) -> None:
    stranger = TestPki(datetime.now(UTC), name="Other").issue("stranger")
    status, _ = proxy.get(stranger)
    assert status == 400  # nginx: "The SSL certificate error"
