"""The enrolment pages through the app: a new TOTP application (its QR code read back by a
real decoder, the manual key, confirmed by a first code), its removal, recovery codes shown
once, the enrolled certificate shown and removed; every change refused without a recent
strong authentication."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from securebox_auth.factors.cert_enrol import CertCredential
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.stores import factor_codecs as fc
from tests.server.profile.conftest import Profile
from tests.test_qr import decode_svg_matrix

SVG = re.compile(r"<svg.*?</svg>", re.S)
KEY = re.compile(r"<code>([A-Z2-7]+)</code>")


def stored_totp(profile: Profile, *, pending: bool = False) -> TotpCredential:
    """The stored credential, or (``pending``) the replacement waiting beside it."""
    found = profile.box.store.get_factor_state(profile.principal, fc.TOTP, "default")
    assert found is not None
    document = fc.pending_of(found.value) if pending else found.value
    assert document is not None
    return fc.totp_from_dict(
        document, keys=profile.box.factors.totp.wrapping, principal=profile.principal,
        item="default",
    )  # fmt: skip


def test_a_new_totp_application_is_shown_once_and_confirmed(profile: Profile) -> None:
    profile.login()
    refused = profile.post("/profile/totp", "/profile/totp")  # one exists: say so
    assert refused.status_code == 409
    page = profile.post("/profile/totp", "/profile/totp", {"replace": "1"})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    svg, key = SVG.search(page.text), KEY.search(page.text)
    assert svg is not None
    assert key is not None
    uri = decode_svg_matrix(svg.group(0))
    assert uri.startswith("otpauth://totp/")
    assert parse_qs(urlsplit(uri).query)["secret"] == [key.group(1)]
    current = stored_totp(profile)  # the application being replaced still works
    assert current.secret != key.group(1)
    assert current.confirmed_at is not None
    pending = stored_totp(profile, pending=True)
    assert pending.secret == key.group(1)
    assert pending.confirmed_at is None
    shown = profile.client.get("/profile/totp").text
    assert "waiting for its first code" in shown
    assert "is set up" in shown
    assert profile.client.get("/api/v1/profile").json()["totp"] == "replacing"
    wrong = profile.post("/profile/totp", "/profile/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    profile.clock.advance(timedelta(seconds=30))
    code = code_at(pending, profile.clock.now())
    done = profile.post("/profile/totp", "/profile/totp/confirm", {"code": code})
    assert done.status_code == 303, done.text
    replaced = stored_totp(profile)
    assert replaced.secret == key.group(1)
    assert replaced.confirmed_at is not None
    assert "is set up" in profile.client.get("/profile/totp?confirmed=1").text
    assert profile.client.get("/api/v1/profile").json()["totp"] == "active"


def test_the_totp_application_is_removed_only_after_a_strong_login(profile: Profile) -> None:
    profile.login(strong=False)
    assert profile.post("/profile/totp", "/profile/totp/remove").status_code == 403
    assert profile.post("/profile/totp", "/profile/totp", {"replace": "1"}).status_code == 403
    assert "enrolment.refused" in profile.actions()
    profile.client.cookies.clear()
    profile.login()
    assert profile.post("/profile/totp", "/profile/totp/remove").status_code == 303
    assert profile.box.store.get_factor_state(profile.principal, fc.TOTP, "default") is None
    assert "totp.remove" in profile.actions()


def test_recovery_codes_are_shown_once_and_replace_the_previous_set(profile: Profile) -> None:
    profile.login(strong=False)
    assert profile.post("/profile/recovery-codes", "/profile/recovery-codes").status_code == 403
    profile.client.cookies.clear()
    profile.login()
    first = profile.post("/profile/recovery-codes", "/profile/recovery-codes")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    codes = re.findall(r"<li><code>([^<]+)</code></li>", first.text)
    assert len(codes) >= 8
    second = profile.post("/profile/recovery-codes", "/profile/recovery-codes")
    newer = re.findall(r"<li><code>([^<]+)</code></li>", second.text)
    assert set(codes).isdisjoint(newer)
    recovery = profile.box.factors.recovery
    assert not recovery.verify(profile.principal, codes[0]).ok  # the old set stopped working
    assert recovery.verify(profile.principal, newer[0]).ok
    assert "<code>" not in profile.client.get("/profile/recovery-codes").text  # never again


def _certificate(profile: Profile) -> CertCredential:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Demo User")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(Encoding.DER)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    return CertCredential(
        subject="CN=Demo User", fingerprint=fingerprint, der=der, enrolled_at=profile.clock.now()
    )


def test_the_certificate_is_listed_and_removed_after_a_strong_login(profile: Profile) -> None:
    profile.login(strong=False)
    assert "No certificate is enrolled" in profile.client.get("/profile/certificates").text
    credential = _certificate(profile)
    profile.box.factors.put_state(
        profile.principal, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential)
    )
    page = profile.client.get("/profile/certificates")
    assert "CN=Demo User" in page.text
    assert credential.fingerprint in page.text
    refused = profile.post("/profile/certificates", "/profile/certificates/remove")
    assert refused.status_code == 403
    profile.client.cookies.clear()
    profile.login()
    done = profile.post("/profile/certificates", "/profile/certificates/remove")
    assert done.status_code == 303
    assert profile.box.store.get_factor_state(profile.principal, fc.CERTIFICATE, "default") is None
    assert "certificate.remove" in profile.actions()
