"""TOTP authenticator applications (RFC 6238): enrolment and pure verification.

pyotp computes the codes (RFC 4226 dynamic truncation over HMAC); securebox decides which
time steps to try from the ``now`` it is given, so pyotp never reads the clock (ASVS 5.0
6.5.8: server time). The stored :class:`TotpCredential` remembers the **last time step
accepted**: a code of that step or of an earlier one is refused, so a code is never accepted
twice, not even inside its own 30 seconds (RFC 6238 section 5.2; PSD2 RTS art. 4(1)).

A TOTP proves possession of the seeded device only (``methods.TOTP``: one category): with the
confidential code it is strong customer authentication; alone it is not. Every failure counts
on the principal's shared lockout state.

The secret is kept as base32 text (the form of the provisioning URI). It is a shared secret
that must be readable to verify codes, so it cannot be hashed: the store must encrypt it at
rest (see ``docs/factors/totp.md``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

import pyotp

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, InvalidCode, MalformedInput
from securebox_auth.factors.outcome import Outcome, count_failure, refusal, success_event
from securebox_auth.identity import Principal
from securebox_auth.lockout import Element, LockoutAlert, LockoutRules, LockoutState, record_success
from securebox_auth.methods import TOTP, AuthMethod
from securebox_auth.qr import encode as qr_encode
from securebox_auth.qr import to_svg

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

#: The HMAC digests RFC 6238 names. Anything else must be allowed explicitly.
RECOMMENDED_ALGORITHMS: Final = frozenset({"SHA1", "SHA256", "SHA512"})
_DIGESTS: Final[dict[str, Callable[[], hashlib._Hash]]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
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


def _decode_secret(secret: str) -> bytes:
    try:
        return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=False)
    except (binascii.Error, ValueError):
        raise MalformedInput("a TOTP secret is base32 text") from None


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
        if self.algorithm not in _DIGESTS:
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
        """What the session proved: :data:`~securebox_auth.methods.TOTP` on success."""
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


class _Hotp(pyotp.HOTP):
    """pyotp's HOTP (RFC 4226 truncation), with the key decoded once per verification
    instead of once per code computed."""

    def __init__(self, credential: TotpCredential) -> None:
        self._key = _decode_secret(credential.secret)
        super().__init__(
            credential.secret, digits=credential.digits, digest=_DIGESTS[credential.algorithm]
        )

    def byte_secret(self) -> bytes:
        return self._key


def _hotp(credential: TotpCredential) -> pyotp.HOTP:
    return _Hotp(credential)


def _step(credential: TotpCredential, now: datetime) -> int:
    return int(now.timestamp()) // credential.period


def code_at(credential: TotpCredential, now: datetime) -> str:
    """The code the authenticator application shows at ``now`` (demos and tests)."""
    return _hotp(credential).at(_step(credential, require_aware(now)))


# The current step first: the usual case costs one HMAC.
_OFFSETS: Final = tuple(
    (0, *(o for w in range(1, window + 1) for o in (-w, w))) for window in range(3)
)


def _matching_step(credential: TotpCredential, code: str, now: datetime, window: int) -> int | None:
    if len(code) != credential.digits:
        return None
    hotp = _hotp(credential)
    current = _step(credential, now)
    for offset in _OFFSETS[window]:
        step = current + offset
        if step >= 0 and hmac.compare_digest(hotp.at(step), code):
            return step
    return None


# A seed nobody has, so that an attempt for a principal without TOTP costs the same work.
_DUMMY: Final = TotpCredential(
    secret=base64.b32encode(secrets.token_bytes(20)).decode().rstrip("="),
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
)


def _syntax(code: object) -> str:
    if not isinstance(code, str) or not 6 <= len(code) <= 8 or not code.isascii():
        raise InvalidCode("a TOTP is 6 to 8 digits")
    if not code.isdigit():
        raise InvalidCode("a TOTP is 6 to 8 digits")
    return code


def _check(
    credential: TotpCredential | None,
    lockout: LockoutState,
    principal: Principal,
    code: object,
    *,
    now: datetime,
    rules: TotpRules,
    lockout_rules: LockoutRules,
    action: str,
    confirming: bool,
) -> TotpVerdict:
    now = require_aware(now)
    typed = _syntax(code)
    subject = principal.key
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        reason_text, event = refused
        return TotpVerdict(
            Outcome.BLOCKED,
            TotpFailure(reason_text),
            credential,
            lockout,
            LockoutAlert.NONE,
            (event,),
        )
    step = _matching_step(credential or _DUMMY, typed, now, rules.window)
    reason: TotpFailure | None = None
    if credential is None:
        reason = TotpFailure.NOT_ENROLLED
    elif confirming and credential.confirmed_at is not None:
        reason = TotpFailure.ALREADY_CONFIRMED
    elif not confirming and credential.confirmed_at is None:
        reason = TotpFailure.NOT_CONFIRMED
    elif step is None:
        reason = TotpFailure.WRONG_CODE
    elif credential.last_step is not None and step <= credential.last_step:
        reason = TotpFailure.REPLAY
    if reason is not None or credential is None or step is None:
        outcome, record = count_failure(
            lockout,
            subject=subject,
            action=action,
            reason=(reason or TotpFailure.WRONG_CODE).value,
            now=now,
            rules=lockout_rules,
            element=Element.TOTP,
        )
        return TotpVerdict(outcome, reason, credential, record.state, record.alert, record.events)
    updated = TotpCredential(
        credential.secret,
        credential.created_at,
        credential.algorithm,
        credential.digits,
        credential.period,
        now if confirming else credential.confirmed_at,
        step,
    )
    event = success_event(now, action, subject, (("drift", str(step - _step(credential, now))),))
    return TotpVerdict(
        Outcome.ACCEPTED,
        None,
        updated,
        record_success(lockout, element=Element.TOTP),
        LockoutAlert.NONE,
        (event,),
    )


def verify_totp(
    credential: TotpCredential | None,
    lockout: LockoutState,
    principal: Principal,
    code: object,
    *,
    now: datetime,
    rules: TotpRules | None = None,
    lockout_rules: LockoutRules,
    path: str = "login",
) -> TotpVerdict:
    """One attempt with a TOTP on the entry ``path`` (``login``, ``step_up``, ``api``...).

    Pass ``credential=None`` when the principal has no confirmed TOTP: the attempt costs
    the same work and is counted the same way. Raises :class:`InvalidCode` (before anything
    is counted) when ``code`` is not 6 to 8 ASCII digits.
    """
    return _check(
        credential,
        lockout,
        principal,
        code,
        now=now,
        rules=rules or TotpRules(),
        lockout_rules=lockout_rules,
        action=f"{path}.totp",
        confirming=False,
    )


def confirm_totp(
    credential: TotpCredential | None,
    lockout: LockoutState,
    principal: Principal,
    code: object,
    *,
    now: datetime,
    rules: TotpRules | None = None,
    lockout_rules: LockoutRules,
) -> TotpVerdict:
    """Finish an enrolment: the first code from the application proves it holds the seed.
    The step it used is recorded, so that code cannot then log in."""
    return _check(
        credential,
        lockout,
        principal,
        code,
        now=now,
        rules=rules or TotpRules(),
        lockout_rules=lockout_rules,
        action="totp.confirm",
        confirming=True,
    )
