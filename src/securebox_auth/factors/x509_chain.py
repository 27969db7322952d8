"""Checking a client certificate's chain: trust anchors, algorithms, key usage, validity.

Re-exported by :mod:`securebox_auth.factors.x509_trust` (ADR 0019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import SignatureAlgorithmOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, SecureboxError
from securebox_auth.factors.x509_load import UNREADABLE as _UNREADABLE
from securebox_auth.factors.x509_load import decode_fields as _decode_fields

__all__ = [
    "RECOMMENDED_SIGNATURE_ALGORITHMS",
    "CertIdentity",
    "CertificateRejected",
    "TrustSettings",
    "fingerprint",
    "verify_chain",
]

#: Signature algorithms accepted on any certificate of a chain unless settings say otherwise.
RECOMMENDED_SIGNATURE_ALGORITHMS: Final = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
        SignatureAlgorithmOID.ED25519,
    }
)
_CURVES: Final = frozenset({"secp256r1", "secp384r1"})
_MIN_RSA_BITS: Final = 2048
_SHA256: Final = hashes.SHA256()


class CertificateRejected(SecureboxError):
    """A certificate, chain or revocation document was refused.

    ``reason`` is a stable code (``chain``, ``key_type``, ``signature_algorithm``,
    ``revoked``, ``revocation_unknown``, ``bad_crl``, ``bad_ocsp``, ``untrusted_proxy``...);
    the message may name the certificate but never holds a secret.
    """

    code: ClassVar[str] = "certificate_rejected"
    status_hint: ClassVar[int] = 403

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate's DER encoding, lower-case hex."""
    return cert.fingerprint(_SHA256).hex()


def _key_usage(_policy: object, _cert: object, ku: x509.KeyUsage | None) -> None:
    if ku is None or not ku.digital_signature:
        raise ValueError("the leaf's key usage lacks digitalSignature")


# Client certificates of persons rarely carry a subjectAltName: the web PKI's requirement is
# lifted; key usage with digitalSignature is required instead.
_EE_POLICY: Final = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .require_present(x509.KeyUsage, Criticality.AGNOSTIC, _key_usage)
)
_CA_POLICY: Final = ExtensionPolicy.webpki_defaults_ca()


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustSettings:
    """A subscription's trust anchors and allow-lists, validated once."""

    anchors: tuple[x509.Certificate, ...]
    signature_algorithms: frozenset[x509.ObjectIdentifier] = RECOMMENDED_SIGNATURE_ALGORITHMS
    max_chain_depth: int = 4
    _store: Store = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.anchors or not all(isinstance(a, x509.Certificate) for a in self.anchors):
            raise ConfigurationError("trust settings need at least one anchor certificate")
        if not self.signature_algorithms <= RECOMMENDED_SIGNATURE_ALGORITHMS:
            raise ConfigurationError("only recommended signature algorithms may be allowed")
        if not 1 <= self.max_chain_depth <= 8:
            raise ConfigurationError("max_chain_depth is 1 to 8")
        object.__setattr__(self, "_store", Store(list(self.anchors)))

    @classmethod
    def from_pem(cls, pem: bytes, **kwargs: object) -> TrustSettings:
        """Settings from a PEM bundle of anchors (keyword arguments as the constructor's)."""
        if not isinstance(pem, bytes):
            raise ConfigurationError("a trust anchor bundle is PEM bytes")
        try:
            anchors = tuple(x509.load_pem_x509_certificates(pem))
            for anchor in anchors:
                _decode_fields(anchor)
        except _UNREADABLE:
            raise ConfigurationError("unreadable trust anchor bundle") from None
        return cls(anchors=anchors, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CertIdentity:
    """A verified chain: the leaf first, the trust anchor last."""

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    fingerprint: str

    @property
    def subject(self) -> str:
        return self.leaf.subject.rfc4514_string()


def _check_key(cert: x509.Certificate) -> None:
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        ok = key.curve.name in _CURVES
    elif isinstance(key, rsa.RSAPublicKey):
        ok = key.key_size >= _MIN_RSA_BITS
    else:
        ok = isinstance(key, ed25519.Ed25519PublicKey)
    if not ok:
        raise CertificateRejected("key_type", "the key is not EC P-256/P-384, RSA>=2048, Ed25519")


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate] = (),
    *,
    trust: TrustSettings,
    now: datetime,
) -> CertIdentity:
    """Verify ``leaf`` as a client certificate at ``now``; raise :class:`CertificateRejected`."""
    now = require_aware(now)
    _check_key(leaf)
    verifier = (
        PolicyBuilder()
        .store(trust._store)
        .time(now)
        .max_chain_depth(trust.max_chain_depth)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        raise CertificateRejected("chain", str(exc).split(" (encountered", 1)[0]) from None
    chain = tuple(verified.chain)
    for cert in chain[:-1]:
        if cert.signature_algorithm_oid not in trust.signature_algorithms:
            raise CertificateRejected("signature_algorithm", "a signature algorithm is refused")
    return CertIdentity(leaf, chain, fingerprint(leaf))
