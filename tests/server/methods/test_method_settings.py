"""What the passkey and certificate pages take from the settings: the relying party, the
issuer, the anchors and CRLs, the signing agent's URL (and the CSP that lets the page call
it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.x509_revocation import RevocationPolicy
from securebox_auth.testing.pki import TestPki
from securebox_server.settings import Settings, load_settings
from securebox_server.web.middleware import CSP, content_security_policy
from securebox_server.wiring import certificate_settings, relying_party
from tests.server.conftest import AppMaker

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "rp_id"),
    [
        ("https://portal.example.test", "portal.example.test"),
        ("https://portal.example.test:8443/base", "portal.example.test"),
        ("http://localhost:8000", "localhost"),
        ("http://portal.example.test", None),  # browsers refuse passkeys over http
        ("http://127.0.0.1:8000", None),  # an IP address is no rp id
        ("https://[::1]:8443", None),
    ],
)
def test_the_relying_party_is_the_public_url(url: str, rp_id: str | None) -> None:
    found = relying_party(Settings(public_url=url, demo=True))
    assert (found.id if found else None) == rp_id
    if found is not None:
        assert found.origins == frozenset({Settings(public_url=url, demo=True).origin})


def test_the_issuer_is_the_public_origin(make_app: AppMaker) -> None:
    _, box, _ = make_app(public_url="https://bank.example")
    assert box.issuer == "https://bank.example"


def test_the_agent_url_reaches_the_csp() -> None:
    settings = load_settings(
        {"SECUREBOX_DEMO": "1", "SECUREBOX_AGENT_URL": "http://127.0.0.1:9999"}
    )
    assert settings.agent_origin == "http://127.0.0.1:9999"
    assert content_security_policy(settings.agent_origin) == (
        f"{CSP}; connect-src 'self' http://127.0.0.1:9999"
    )
    assert Settings(demo=True).agent_origin == "http://127.0.0.1:8731"
    for bad in ("ftp://127.0.0.1", "http://127.0.0.1:1/sign", "http://a b", "http://x;y", ""):
        with pytest.raises(ConfigurationError):
            Settings(demo=True, agent_url=bad)


def test_anchors_and_crls(tmp_path: Path) -> None:
    assert certificate_settings(Settings(demo=True), NOW) is None
    pki = TestPki(NOW)
    (tmp_path / "ca.pem").write_bytes(pki.root.pem + pki.intermediate.pem)
    (tmp_path / "ok.crl").write_bytes(pki.crl())
    settings = load_settings(
        {
            "SECUREBOX_DEMO": "1",
            "SECUREBOX_CERTIFICATE_ANCHORS": str(tmp_path / "ca.pem"),
            "SECUREBOX_CERTIFICATE_CRLS": str(tmp_path / "ok.crl"),
        }
    )
    found = certificate_settings(settings, NOW)
    assert found is not None
    assert len(found.trust.anchors) == 2
    assert found.revocation.crls.current(pki.intermediate.cert, NOW) is not None
    assert found.revocation.policy is RevocationPolicy.FAIL_CLOSED
    # a CRL of another CA, a stale one, a missing file: refused at start-up
    (tmp_path / "other.crl").write_bytes(TestPki(NOW, name="Other").crl())
    for crl in ("other.crl", "missing.crl"):
        with pytest.raises(ConfigurationError):
            certificate_settings(
                Settings(demo=True, certificate_anchors=tmp_path / "ca.pem",
                         certificate_crls=(tmp_path / crl,)),
                NOW,
            )  # fmt: skip
    with pytest.raises(ConfigurationError):
        certificate_settings(
            Settings(demo=True, certificate_anchors=tmp_path / "ca.pem",
                     certificate_crls=(tmp_path / "ok.crl",)),
            NOW + timedelta(days=30),
        )  # fmt: skip
    with pytest.raises(ConfigurationError):
        Settings(demo=True, certificate_revocation="maybe")
