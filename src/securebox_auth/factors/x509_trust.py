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

The chain checks are in :mod:`.x509_chain`, revocation in :mod:`.x509_revocation`; this
module re-exports both, so every name is importable from here.
"""

from __future__ import annotations

from securebox_auth.factors.x509_chain import (
    RECOMMENDED_SIGNATURE_ALGORITHMS,
    CertIdentity,
    CertificateRejected,
    TrustSettings,
    fingerprint,
    verify_chain,
)
from securebox_auth.factors.x509_load import load_certificate
from securebox_auth.factors.x509_revocation import (
    CrlCache,
    RevocationPolicy,
    RevocationStatus,
    add_crl,
    revocation_status,
)

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
