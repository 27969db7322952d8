"""TOTP authenticator applications (RFC 6238): enrolment and pure verification.

:mod:`.hotp` computes the codes (RFC 4226 dynamic truncation over the standard library's
HMAC, ADR 0063) from the time steps chosen by the ``now`` it is given: nothing here reads the
clock (ASVS 5.0 6.5.8: server time). The stored :class:`TotpCredential` remembers the **last
time step accepted**: a code of that step or of an earlier one is refused, so a code is never
accepted twice, not even inside its own 30 seconds (RFC 6238 section 5.2; PSD2 RTS art. 4(1)).

A TOTP proves possession of the seeded device only (``methods.TOTP``: one category): with the
confidential code it is strong customer authentication; alone it is not. Every failure counts
on the principal's shared lockout state.

The secret is kept as base32 text (the form of the provisioning URI). It is a shared secret
that must be readable to verify codes, so it cannot be hashed: the store must encrypt it at
rest (see ``docs/factors/totp.md``).

Values and enrolment are in :mod:`.totp_credential`, verification in :mod:`.totp_verify`;
this module re-exports both, so every name is importable from here.
"""

from __future__ import annotations

from securebox_auth.factors.totp_credential import (
    RECOMMENDED_ALGORITHMS,
    TotpCredential,
    TotpEnrolment,
    TotpFailure,
    TotpRules,
    TotpVerdict,
    enrol_totp,
)
from securebox_auth.factors.totp_verify import code_at, confirm_totp, verify_totp

__all__ = [
    "RECOMMENDED_ALGORITHMS",
    "TotpCredential",
    "TotpEnrolment",
    "TotpFailure",
    "TotpRules",
    "TotpVerdict",
    "code_at",
    "confirm_totp",
    "enrol_totp",
    "verify_totp",
]
