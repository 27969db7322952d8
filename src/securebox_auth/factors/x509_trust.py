"""X.509 client certificates: trust anchors, chain building, revocation.

A thin, open wrapper over ``cryptography``'s X.509 verification: :class:`TrustSettings`
holds a subscription's trust anchors and allow-lists, :func:`verify_chain` runs
``PolicyBuilder().store(...).time(now).extension_policies(...).build_client_verifier()``
and turns any :class:`~cryptography.x509.verification.VerificationError` into one error of
ours, :class:`CertificateRejected`, with a stable ``reason``.

On top of cryptography's checks (chain, validity at ``now``, basic constraints, EKU
clientAuth on the leaf) this module enforces:

* key usage ``digitalSignature`` on the leaf (through the extension policy);
* the leaf's key type: EC P-256 / P-384, RSA of at least 2048 bits, Ed25519;
* the signature algorithm of every certificate of the chain, from an allow-list.

Revocation is evidence the shell fetches (CRLs, OCSP responses); the functions here are
pure: :func:`add_crl` checks a CRL's signature and returns a new :class:`CrlCache` that
keeps it until its ``nextUpdate``; :func:`revocation_status` reads a chain's status from an
OCSP response or a cached CRL, and the :class:`RevocationPolicy` says what an unknown
status means (fail closed by default).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, MalformedInput, SecureboxError
from securebox_auth.factors.x509_load import UNREADABLE as _UNREADABLE
from securebox_auth.factors.x509_load import decode_fields as _decode_fields
from securebox_auth.factors.x509_load import load_certificate

__all__ = [
    "RECOMMENDED_SIGNATURE_ALGORITHMS",
    "CertIdentity",
    "CertificateRejected",
    "CrlCache",
    "RevocationPolicy",
    "RevocationStatus",
    "TrustSettings",
    "add_crl",
    "fingerprint",
    "load_certificate",
    "revocation_status",
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


class RevocationPolicy(enum.Enum):
    """What a status that cannot be established means."""

    FAIL_CLOSED = "fail_closed"
    FAIL_OPEN = "fail_open"


class RevocationStatus(enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


def _issuer_key(issuer: x509.Certificate) -> str:
    return issuer.fingerprint(_SHA256).hex()


@dataclass(frozen=True, slots=True)
class _CrlEntry:
    crl: x509.CertificateRevocationList
    next_update: datetime


@dataclass(frozen=True, slots=True)
class CrlCache:
    """CRLs whose signature was checked, by issuer, each kept until its ``nextUpdate``."""

    entries: Mapping[str, _CrlEntry] = field(default_factory=lambda: MappingProxyType({}))

    def current(
        self, issuer: x509.Certificate, now: datetime
    ) -> x509.CertificateRevocationList | None:
        entry = self.entries.get(_issuer_key(issuer))
        if entry is None or require_aware(now) >= entry.next_update:
            return None
        return entry.crl

    def expired(self, now: datetime) -> tuple[str, ...]:
        """Issuer keys whose CRL must be fetched again."""
        now = require_aware(now)
        return tuple(k for k, e in self.entries.items() if now >= e.next_update)


def add_crl(cache: CrlCache, data: bytes, issuer: x509.Certificate, *, now: datetime) -> CrlCache:
    """A new cache holding ``data`` (PEM or DER) for ``issuer``, after checking that the
    issuer signed it and that it is current."""
    now = require_aware(now)
    if not isinstance(data, bytes):
        raise MalformedInput("a CRL is PEM or DER bytes")
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(data)
        )
        # every field the revocation check reads later, decoded now
        _ = (crl.issuer.rfc4514_string(), crl.last_update_utc, crl.next_update_utc)
        _ = [(r.serial_number, r.revocation_date_utc, r.extensions) for r in crl]
        signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except _UNREADABLE:
        raise CertificateRejected("bad_crl", "unreadable CRL") from None
    if crl.issuer != issuer.subject or not signed:
        raise CertificateRejected("bad_crl", "the CRL is not signed by its issuer")
    next_update = crl.next_update_utc
    if next_update is None or not crl.last_update_utc <= now < next_update:
        raise CertificateRejected("bad_crl", "the CRL is not current")
    entries = dict(cache.entries)
    entries[_issuer_key(issuer)] = _CrlEntry(crl, next_update)
    return CrlCache(MappingProxyType(entries))


def _verify_signed(
    issuer: x509.Certificate, signature: bytes, data: bytes, hash_alg: hashes.HashAlgorithm | None
) -> bool:
    key = issuer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _same_issuer(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    """The response names ``issuer`` (key and name hashes), not another CA's serial."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm).build()
    return (
        request.issuer_key_hash == single.issuer_key_hash
        and request.issuer_name_hash == single.issuer_name_hash
    )


def _ocsp_status(
    cert: x509.Certificate, issuer: x509.Certificate, data: bytes, now: datetime
) -> RevocationStatus:
    """The status an OCSP response gives; ``cryptography`` decodes its fields lazily, so a
    malformed field anywhere is reported as an unreadable response."""
    if not isinstance(data, bytes):
        raise MalformedInput("an OCSP response is DER bytes")
    try:
        return _ocsp_read(cert, issuer, ocsp.load_der_ocsp_response(data), now)
    except _UNREADABLE:
        raise CertificateRejected("bad_ocsp", "unreadable OCSP response") from None


def _ocsp_read(
    cert: x509.Certificate, issuer: x509.Certificate, response: ocsp.OCSPResponse, now: datetime
) -> RevocationStatus:
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return RevocationStatus.UNKNOWN
    signer = issuer
    if (
        response.responder_key_hash
        != x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        and response.responder_name != issuer.subject
    ):
        # a delegated responder: issued by the issuer for OCSP signing
        delegated = [c for c in response.certificates if c.issuer == issuer.subject]
        if not delegated or not _verify_signed(
            issuer,
            delegated[0].signature,
            delegated[0].tbs_certificate_bytes,
            delegated[0].signature_hash_algorithm,
        ):
            raise CertificateRejected("bad_ocsp", "unknown OCSP responder")
        responder = delegated[0]
        try:
            eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise CertificateRejected("bad_ocsp", "the responder may not sign OCSP")
        if not responder.not_valid_before_utc <= now < responder.not_valid_after_utc:
            raise CertificateRejected("bad_ocsp", "the OCSP responder's certificate expired")
        signer = responder
    if not _verify_signed(
        signer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        raise CertificateRejected("bad_ocsp", "the OCSP response signature is wrong")
    for single in response.responses:
        if single.serial_number != cert.serial_number or not _same_issuer(single, cert, issuer):
            continue
        if single.this_update_utc > now or (
            single.next_update_utc is not None and now >= single.next_update_utc
        ):
            return RevocationStatus.UNKNOWN
        if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
            return RevocationStatus.GOOD
        if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
            return RevocationStatus.REVOKED
        return RevocationStatus.UNKNOWN
    return RevocationStatus.UNKNOWN


def revocation_status(
    identity: CertIdentity,
    *,
    now: datetime,
    crls: CrlCache = CrlCache(),
    ocsp_responses: Mapping[int, bytes] | None = None,
    policy: RevocationPolicy = RevocationPolicy.FAIL_CLOSED,
    check: Collection[str] = ("leaf", "intermediates"),
) -> RevocationStatus:
    """The chain's status: REVOKED if any checked certificate is revoked, UNKNOWN (which the
    fail-closed policy refuses) if one cannot be established, else GOOD.

    ``ocsp_responses`` maps a certificate serial number to a DER OCSP response; without one
    the issuer's cached CRL answers. Under :attr:`RevocationPolicy.FAIL_OPEN` an unknown
    status is reported as GOOD. Raises :class:`CertificateRejected` for a forged response.
    """
    now = require_aware(now)
    responses = ocsp_responses or {}
    chain = identity.chain
    last = len(chain) - 1 if "intermediates" in check else min(1, len(chain) - 1)
    worst = RevocationStatus.GOOD
    for index in range(last):
        cert, issuer = chain[index], chain[index + 1]
        status = RevocationStatus.UNKNOWN
        if cert.serial_number in responses:
            status = _ocsp_status(cert, issuer, responses[cert.serial_number], now)
        if status is RevocationStatus.UNKNOWN:
            crl = crls.current(issuer, now)
            if crl is not None:
                revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                status = RevocationStatus.GOOD if revoked is None else RevocationStatus.REVOKED
        if status is RevocationStatus.REVOKED:
            return status
        if status is RevocationStatus.UNKNOWN:
            worst = status
    if worst is RevocationStatus.UNKNOWN and policy is RevocationPolicy.FAIL_OPEN:
        return RevocationStatus.GOOD
    return worst
