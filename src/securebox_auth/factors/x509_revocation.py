"""Revocation of client certificates: CRLs the shell fetched, OCSP responses, and what an
unknown status means. Pure: the evidence is gathered by the shell and passed in.

Re-exported by :mod:`securebox_auth.factors.x509_trust` (ADR 0019).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from securebox_auth.clock import require_aware
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.x509_chain import _SHA256, CertIdentity, CertificateRejected
from securebox_auth.factors.x509_load import UNREADABLE as _UNREADABLE

__all__ = ["CrlCache", "RevocationPolicy", "RevocationStatus", "add_crl", "revocation_status"]


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
