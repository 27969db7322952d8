"""A small PKI for tests, examples and benchmarks, made with ``cryptography``.

:class:`TestPki` holds a root and an intermediate CA (EC P-384 and P-256) and issues client
certificates with any of the defects a test needs (expired, no clientAuth, a weak key...), a
CRL of the intermediate, and OCSP responses signed by it. Never use it for real certificates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "TestPki"]

_SignKey = CertificateIssuerPrivateKeyTypes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "securebox test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _hash_for(key: _SignKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()
    return hashes.SHA256() if isinstance(key, rsa.RSAPrivateKey) else None


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: _SignKey = field(repr=False)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


def _ca(
    name: str, key: _SignKey, issuer: Issued | None, now: datetime, days: int
) -> x509.Certificate:
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer.cert.subject if issuer else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(signer_key, _hash_for(signer_key))


class TestPki:
    """Root -> intermediate -> client certificates, valid around ``now``."""

    __test__ = False  # not a pytest test class

    def __init__(self, now: datetime, *, name: str = "Test") -> None:
        self.now = now
        root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = Issued(_ca(f"{name} Root CA", root_key, None, now, 3650), root_key)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = Issued(
            _ca(f"{name} Client CA", inter_key, self.root, now, 1825), inter_key
        )

    def issue(
        self,
        common_name: str,
        *,
        key: _SignKey | None = None,
        public_key: object | None = None,
        client_auth: bool = True,
        ocsp_signing: bool = False,
        digital_signature: bool = True,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        issuer: Issued | None = None,
    ) -> Issued:
        """A client certificate for ``key`` (a new P-256 key when none is given), or for a
        ``public_key`` whose private half lives on a token (``Issued.key`` is then the
        issuer's, unusable for signing challenges)."""
        ca = issuer or self.intermediate
        private = key if key is not None else ec.generate_private_key(ec.SECP256R1())
        subject_key = public_key if public_key is not None else private.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.cert.subject)
            .public_key(subject_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - timedelta(days=30))
            .not_valid_after(not_after or self.now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature,
                    not digital_signature,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        )
        usages = [
            ExtendedKeyUsageOID.CLIENT_AUTH if client_auth else ExtendedKeyUsageOID.EMAIL_PROTECTION
        ]
        if ocsp_signing:
            usages = [ExtendedKeyUsageOID.OCSP_SIGNING]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        return Issued(builder.sign(ca.key, _hash_for(ca.key)), private)

    def crl(
        self,
        revoked: tuple[x509.Certificate, ...] = (),
        *,
        issuer: Issued | None = None,
        next_update: timedelta = timedelta(days=7),
    ) -> bytes:
        """A DER CRL of ``issuer`` (the intermediate) listing ``revoked``."""
        ca = issuer or self.intermediate
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(self.now - timedelta(hours=1))
            .next_update(self.now + next_update)
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(self.now - timedelta(hours=2))
                .build()
            )
        return builder.sign(ca.key, _hash_for(ca.key)).public_bytes(Encoding.DER)

    def ocsp(
        self,
        cert: x509.Certificate,
        *,
        revoked: bool = False,
        issuer: Issued | None = None,
        signer: Issued | None = None,
    ) -> bytes:
        """A DER OCSP response for ``cert`` signed by its issuer, or by ``signer`` (a
        delegated responder, whose certificate the response then carries)."""
        ca = issuer or self.intermediate
        responder = signer or ca
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=ca.cert,
                algorithm=hashes.SHA256(),
                cert_status=status,
                this_update=self.now - timedelta(minutes=5),
                next_update=self.now + timedelta(hours=12),
                revocation_time=self.now - timedelta(hours=2) if revoked else None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
        )
        if signer is not None:
            builder = builder.certificates([signer.cert])
        response = builder.sign(responder.key, hashes.SHA256())
        return response.public_bytes(Encoding.DER)
