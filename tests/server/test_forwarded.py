"""The trusted-proxy rule for a forwarded client certificate, without a proxy: who is
believed, what is ignored, and the typed errors of a misconfigured proxy."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.x509_trust import fingerprint
from securebox_auth.testing.pki import TestPki
from securebox_server.certificates.forwarded import (
    ForwardedCertificateInvalid,
    ForwardedSettings,
    Source,
    forwarded_certificate,
    parse_networks,
)
from tests.support import NOW

SETTINGS = ForwardedSettings(trusted_proxies=parse_networks(["10.0.0.0/24", "::1"]))


@pytest.fixture(scope="module")
def escaped() -> tuple[str, str]:
    issued = TestPki(NOW).issue("alice")
    return quote(issued.pem.decode()), fingerprint(issued.cert)


@pytest.mark.parametrize("peer", ["10.0.0.7", "::1", "::ffff:10.0.0.9"])
def test_a_trusted_proxy_is_believed(peer: str, escaped: tuple[str, str]) -> None:
    value, print_ = escaped
    found = forwarded_certificate(peer, [("x-ssl-client-cert", value)], SETTINGS)
    assert found.source is Source.PROXY
    assert found.certificate is not None
    assert fingerprint(found.certificate) == print_


@pytest.mark.parametrize("peer", ["10.0.1.7", "127.0.0.1", "::2", "not-an-ip", None])
def test_anyone_else_is_ignored(peer: str | None, escaped: tuple[str, str]) -> None:
    found = forwarded_certificate(peer, [("X-SSL-Client-Cert", escaped[0])], SETTINGS)
    assert (found.certificate, found.source) == (None, Source.IGNORED)
    assert forwarded_certificate(peer, [], SETTINGS).source is Source.DIRECT


def test_a_unix_socket_only_when_configured(escaped: tuple[str, str]) -> None:
    unix = ForwardedSettings(trust_unix_socket=True)
    assert forwarded_certificate(None, [("X-SSL-Client-Cert", escaped[0])], unix).certificate
    # nobody is trusted by default
    assert forwarded_certificate("127.0.0.1", [], ForwardedSettings()).source is Source.DIRECT


def test_a_misconfigured_proxy_is_a_typed_error(escaped: tuple[str, str]) -> None:
    header = "X-SSL-Client-Cert"
    assert forwarded_certificate("::1", [(header, "")], SETTINGS).source is Source.NONE
    for headers in (
        [(header, escaped[0]), (header, escaped[0])],
        [(header, "not%20a%20certificate")],
        [(header, "A" * 20000)],
    ):
        with pytest.raises(ForwardedCertificateInvalid) as caught:
            forwarded_certificate("::1", headers, SETTINGS)
        assert caught.value.code == "forwarded_certificate_invalid"


def test_settings_are_validated() -> None:
    for bad in (["10.0.0.1/8"], ["example.org"], [""]):
        with pytest.raises(ConfigurationError):
            parse_networks(bad)
    with pytest.raises(ConfigurationError):
        ForwardedSettings(header="X-Cert: evil")
