"""TOTP values and enrolment: the rules, the credential (its seed), the verdicts, and
:func:`enrol_totp` with its ``otpauth://`` URI and QR code.

Re-exported by :mod:`securebox_auth.factors.totp` (ADR 0019).
"""

from __future__ import annotations

import base64
import enum
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import quote

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.hotp import HASHES
from securebox_auth.factors.methods import TOTP, AuthMethod
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.qr import encode as qr_encode
from securebox_auth.factors.qr import to_svg
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutAlert, LockoutState

__all__ = [
    "RECOMMENDED_ALGORITHMS",
    "TotpCredential",
    "TotpEnrolment",
    "TotpFailure",
    "TotpRules",
    "TotpVerdict",
    "enrol_totp",
]

#: The HMAC digests RFC 6238 names. Anything else must be allowed explicitly.
RECOMMENDED_ALGORITHMS: Final = frozenset({"SHA1", "SHA256", "SHA512"})
_MIN_SECRET_BYTES: Final = 20  # 160 bits, RFC 4226 section 4 R6
_BASE32: Final = re.compile(r"[A-Z2-7]{32,103}")  # 160 to 512 bits, unpadded


@dataclass(frozen=True, slots=True, kw_only=True)
class TotpRules:
    """TOTP parameters for new enrolments, and the verification window."""

    digits: int = 6
    #: Seconds per time step (ASVS 5.0 6.5.5: a TOTP lives at most 30 seconds).
    period: int = 30
    algorithm: str = "SHA1"
    #: Time steps accepted before and after the current one (clock drift). RFC 6238 section
    #: 5.2 recommends at most one.
    window: int = 1
    secret_bytes: int = _MIN_SECRET_BYTES
    allowed_algorithms: frozenset[str] = RECOMMENDED_ALGORITHMS

    def __post_init__(self) -> None:
        if not 6 <= self.digits <= 8:
            raise ConfigurationError("totp.digits must be 6, 7 or 8")
        if not 15 <= self.period <= 60:
            raise ConfigurationError("totp.period must be 15 to 60 seconds")
        if not 0 <= self.window <= 2:
            raise ConfigurationError("totp.window must be 0, 1 or 2 steps")
        if not _MIN_SECRET_BYTES <= self.secret_bytes <= 64:
            raise ConfigurationError("totp.secret_bytes must be 20 to 64 (160 to 512 bits)")
        if not self.allowed_algorithms <= RECOMMENDED_ALGORITHMS:
            raise ConfigurationError("totp.allowed_algorithms: SHA1, SHA256, SHA512 only")
        if self.algorithm not in self.allowed_algorithms:
            raise ConfigurationError(f"totp.algorithm {self.algorithm!r} is not allowed")


@dataclass(frozen=True, slots=True)
class TotpCredential:
    """The stored TOTP seed of one principal. The secret never appears in ``repr``."""

    secret: str = field(repr=False)
    created_at: datetime
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    #: Set by :func:`confirm_totp`; an unconfirmed credential proves nothing.
    confirmed_at: datetime | None = None
    #: The last time step accepted (``None`` before the first use).
    last_step: int | None = None

    def __post_init__(self) -> None:
        # A syntax check, not a decode: a credential is rebuilt at every verification.
        if not isinstance(self.secret, str) or not _BASE32.fullmatch(self.secret):
            raise MalformedInput("a TOTP secret is base32 text of at least 160 bits")
        if self.algorithm not in HASHES:
            raise MalformedInput("unsupported TOTP algorithm")
        if not 6 <= self.digits <= 8 or not 15 <= self.period <= 60:
            raise MalformedInput("unsupported TOTP digits or period")


class TotpFailure(enum.Enum):
    """Why an attempt failed, for the audit trail only; never shown to the user."""

    WRONG_CODE = "wrong_code"
    REPLAY = "replayed_step"
    NOT_ENROLLED = "not_enrolled"
    NOT_CONFIRMED = "not_confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


@dataclass(frozen=True, slots=True)
class TotpVerdict:
    outcome: Outcome
    reason: TotpFailure | None
    #: The credential to store (its ``last_step`` moved on success).
    credential: TotpCredential | None
    lockout: LockoutState
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def method(self) -> AuthMethod | None:
        """What the session proved: :data:`~securebox_auth.factors.methods.TOTP` on success."""
        return TOTP if self.ok else None


class TotpEnrolment:
    """A new seed to show once: as a provisioning URI, a QR code, or base32 text for manual
    entry. Nothing secret appears in ``repr``."""

    __slots__ = ("_issuer", "_label", "credential")

    def __init__(self, credential: TotpCredential, label: str, issuer: str) -> None:
        self.credential = credential
        self._label = label
        self._issuer = issuer

    def secret(self) -> str:
        """The base32 secret, for manual entry."""
        return self.credential.secret

    def uri(self) -> str:
        """The ``otpauth://totp/...`` provisioning URI (Google Authenticator key URI format)."""
        c = self.credential
        label = quote(f"{self._issuer}:{self._label}", safe=":@")
        return (
            f"otpauth://totp/{label}?secret={c.secret}&issuer={quote(self._issuer, safe='')}"
            f"&algorithm={c.algorithm}&digits={c.digits}&period={c.period}"
        )

    def qr_svg(self, *, scale: int = 4) -> str:
        """The URI as a QR code in SVG, made here (no network, no image library)."""
        return to_svg(qr_encode(self.uri(), level="M"), scale=scale, title="TOTP enrolment")

    def __repr__(self) -> str:
        return f"TotpEnrolment(label={self._label!r}, issuer={self._issuer!r}, secret=<hidden>)"


def _check_label(name: str, value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not value.isprintable():
        raise MalformedInput(f"the TOTP {name} is 1 to 64 printable characters")
    if ":" in value and name == "issuer":
        raise MalformedInput("the TOTP issuer must not contain ':'")
    return value


def enrol_totp(
    principal: Principal,
    *,
    now: datetime,
    issuer: str,
    rules: TotpRules | None = None,
    label: str | None = None,
    secret: bytes | None = None,
) -> TotpEnrolment:
    """A fresh seed from :mod:`secrets` (``rules.secret_bytes``, at least 160 bits), not yet
    confirmed. ``secret`` exists for test vectors; ``label`` defaults to the principal."""
    rules = rules or TotpRules()
    now = require_aware(now)
    raw = secrets.token_bytes(rules.secret_bytes) if secret is None else secret
    if len(raw) < _MIN_SECRET_BYTES:
        raise ConfigurationError("a TOTP secret has at least 160 bits")
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    credential = TotpCredential(
        secret=text,
        created_at=now,
        algorithm=rules.algorithm,
        digits=rules.digits,
        period=rules.period,
    )
    return TotpEnrolment(
        credential, _check_label("label", label or principal.key), _check_label("issuer", issuer)
    )
