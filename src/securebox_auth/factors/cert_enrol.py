"""Enrolling a certificate on a token or a smartcard (:func:`enrol_certificate`), and the
revocation evidence the shell gathers for every check (:class:`Revocation`).

Enrolment binds a client certificate (PEM or DER) to a principal after checking it against
the subscription's :class:`~securebox_auth.factors.x509_trust.TrustSettings` and its
revocation status; a refusal raises
:class:`~securebox_auth.factors.x509_trust.CertificateRejected` with a stable reason.
:func:`checked_certificate` is the check every later login repeats. Pure: no clock, no I/O.
Re-exported by :mod:`securebox_auth.factors.certificate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.factors.x509_trust import (
    CertIdentity,
    CertificateRejected,
    CrlCache,
    RevocationPolicy,
    RevocationStatus,
    TrustSettings,
    load_certificate,
    revocation_status,
    verify_chain,
)
from securebox_auth.identity import Principal

__all__ = ["CertCredential", "Revocation", "checked_certificate", "enrol_certificate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    """The revocation evidence the shell gathered, and what an unknown status means."""

    crls: CrlCache = field(default_factory=CrlCache)
    #: DER OCSP responses by certificate serial number.
    ocsp: Mapping[int, bytes] = field(default_factory=dict)
    policy: RevocationPolicy = RevocationPolicy.FAIL_CLOSED


@dataclass(frozen=True, slots=True, kw_only=True)
class CertCredential:
    """A certificate bound to a principal (``der`` and its intermediates as DER)."""

    subject: str
    fingerprint: str
    der: bytes = field(repr=False)
    intermediates: tuple[bytes, ...] = field(default=(), repr=False)
    enrolled_at: datetime
    _certs: tuple[x509.Certificate, tuple[x509.Certificate, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "enrolled_at", require_aware(self.enrolled_at, "enrolled_at"))
        leaf = load_certificate(self.der)
        chain = tuple(load_certificate(d) for d in self.intermediates)
        object.__setattr__(self, "_certs", (leaf, chain))

    @property
    def certificate(self) -> x509.Certificate:
        return self._certs[0]

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._certs[1]


def checked_certificate(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    *,
    trust: TrustSettings,
    revocation: Revocation,
    now: datetime,
) -> CertIdentity:
    identity = verify_chain(leaf, intermediates, trust=trust, now=now)
    status = revocation_status(
        identity,
        now=now,
        crls=revocation.crls,
        ocsp_responses=revocation.ocsp,
        policy=revocation.policy,
    )
    if status is RevocationStatus.REVOKED:
        raise CertificateRejected("revoked", "the certificate is revoked")
    if status is RevocationStatus.UNKNOWN:
        raise CertificateRejected("revocation_unknown", "the revocation status is unknown")
    return identity


def enrol_certificate(
    principal: Principal,
    data: bytes | str,
    *,
    intermediates: Sequence[bytes | str] = (),
    trust: TrustSettings,
    revocation: Revocation,
    now: datetime,
) -> tuple[CertCredential, AuditEvent]:
    """Bind a client certificate (PEM or DER) to ``principal``; raise
    :class:`CertificateRejected` when it does not chain, is expired, lacks digitalSignature
    or clientAuth, has a refused key type or signature algorithm, or is revoked."""
    now = require_aware(now)
    leaf = load_certificate(data)
    chain = [load_certificate(d) for d in intermediates]
    identity = checked_certificate(leaf, chain, trust=trust, revocation=revocation, now=now)
    credential = CertCredential(
        subject=principal.key,
        fingerprint=identity.fingerprint,
        der=leaf.public_bytes(Encoding.DER),
        intermediates=tuple(c.public_bytes(Encoding.DER) for c in identity.chain[1:-1]),
        enrolled_at=now,
    )
    event = AuditEvent.make(
        now,
        "certificate.enrol",
        actor=principal.key,
        subject=principal.key,
        outcome="success",
        details={"fingerprint": identity.fingerprint, "issuer": leaf.issuer.rfc4514_string()},
    )
    return credential, event
