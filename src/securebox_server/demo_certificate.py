"""Demo material for certificate login (demo mode only, never for real certificates): a
throw-away CA (``securebox_auth.testing.pki``), its CRLs, and a client certificate for demo
user 01 with its key, as PEM files and a PKCS#12 to load into a SoftHSM2 token for the
signing agent, or into a browser behind the mutual-TLS proxy (docs/certificates-login.md,
"Trying it in the demo")."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from securebox_auth.factors.cert_enrol import CertCredential, Revocation, enrol_certificate
from securebox_auth.factors.x509_chain import TrustSettings
from securebox_auth.factors.x509_revocation import CrlCache, add_crl
from securebox_auth.identity import Principal
from securebox_auth.testing.pki import TestPki

__all__ = ["P12_PASSWORD", "DemoCertificate", "make_demo_certificate"]

#: The demo PKCS#12's password (printed by ``securebox demo``).
P12_PASSWORD: Final = "demo"  # noqa: S105 - a printed demo password, nothing real


class DemoCertificate:
    """The files written, the settings that use them, and the credential to enrol."""

    def __init__(self, folder: Path, settings: dict[str, str], credential: CertCredential):
        self.folder = folder
        self.settings = settings
        self.credential = credential


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def make_demo_certificate(folder: Path, principal: Principal, now: datetime) -> DemoCertificate:
    """Write ``ca.pem`` (anchors), ``ca.crl``/``root.crl``, ``demo-<user>.pem`` (and
    ``.der``),
    ``demo-<user>.key`` (PKCS#8, unencrypted, for ``softhsm2-util --import``) and
    ``demo-<user>.p12`` into ``folder``."""
    pki = TestPki(now, name="securebox demo")
    issued = pki.issue(f"demo {principal.key}")
    name = f"demo-{principal.user_number.value}"
    _write(folder / "ca.pem", pki.root.pem + pki.intermediate.pem)
    _write(folder / "ca.crl", pki.crl())
    _write(folder / "root.crl", pki.crl(issuer=pki.root))
    _write(folder / f"{name}.pem", issued.pem)
    _write(folder / f"{name}.der", issued.der)
    key = issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    _write(folder / f"{name}.key", key, private=True)
    holder = issued.key
    # the test PKI issues EC keys; PKCS#12 takes no post-quantum key types (cryptography 50)
    assert isinstance(holder, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    bundle = pkcs12.serialize_key_and_certificates(
        name.encode(), holder, issued.cert, [pki.intermediate.cert],
        BestAvailableEncryption(P12_PASSWORD.encode()),
    )  # fmt: skip
    _write(folder / f"{name}.p12", bundle, private=True)
    trust = TrustSettings(anchors=(pki.root.cert,))
    crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
    crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
    credential, _ = enrol_certificate(
        principal, issued.pem, intermediates=[pki.intermediate.pem], trust=trust,
        revocation=Revocation(crls=crls), now=now,
    )  # fmt: skip
    settings = {
        "SECUREBOX_CERTIFICATE_ANCHORS": str(folder / "ca.pem"),
        "SECUREBOX_CERTIFICATE_CRLS": f"{folder / 'ca.crl'},{folder / 'root.crl'}",
    }
    return DemoCertificate(folder, settings, credential)
