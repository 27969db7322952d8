"""Issuing out-of-band codes: channels, rules, send logs and rate limits, destinations, the
challenge and the message that shows what is approved.

Re-exported by :mod:`securebox_auth.factors.oob` (ADR 0019).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.code import OneTimeCode
from securebox_auth.factors.methods import EMAIL_OTP, SMS_OTP, AuthMethod
from securebox_auth.identity import Principal

__all__ = [
    "Channel",
    "IssueResult",
    "OobChallenge",
    "OobMessage",
    "OobRules",
    "SendLog",
    "destination_key",
    "inactive_issue",
    "issue_oob",
    "keyed_destination_key",
]

_MAX_LIFETIME: Final = timedelta(minutes=10)
_WARNING: Final = "Never give this code to anyone, not even to cancel a payment."


class Channel(enum.Enum):
    SMS = "sms"
    EMAIL = "email"

    @property
    def method(self) -> AuthMethod:
        return SMS_OTP if self is Channel.SMS else EMAIL_OTP


@dataclass(frozen=True, slots=True, kw_only=True)
class OobRules:
    digits: int = 6
    #: At most 10 minutes (ASVS 5.0 6.5.4).
    lifetime: timedelta = timedelta(minutes=5)
    #: Wrong tries after which a code is burnt (the lockout counts them too).
    max_wrong: int = 3
    #: Codes per user, and per destination, within ``throttle_window``.
    per_user: int = 5
    per_destination: int = 5
    throttle_window: timedelta = timedelta(hours=1)
    #: Minimum time between two codes to one user.
    min_interval: timedelta = timedelta(seconds=30)
    issuer: str = "securebox"

    def __post_init__(self) -> None:
        if not 6 <= self.digits <= 8:
            raise ConfigurationError("oob.digits must be 6, 7 or 8")
        if not timedelta(minutes=1) <= self.lifetime <= _MAX_LIFETIME:
            raise ConfigurationError("oob.lifetime must be 1 to 10 minutes")
        if not 1 <= self.max_wrong <= 10:
            raise ConfigurationError("oob.max_wrong must be 1 to 10")
        if self.per_user < 1 or self.per_destination < 1:
            raise ConfigurationError("oob throttles allow at least one code")
        if self.throttle_window <= timedelta(0) or self.min_interval < timedelta(0):
            raise ConfigurationError("oob.throttle_window must be positive")


@dataclass(frozen=True, slots=True)
class SendLog:
    """When codes were sent, for one user or one destination (pure throttle state)."""

    sent: tuple[datetime, ...] = ()

    def recent(self, now: datetime, window: timedelta) -> tuple[datetime, ...]:
        return tuple(t for t in self.sent if now - t < window)

    def with_send(self, now: datetime, window: timedelta) -> SendLog:
        return SendLog((*self.recent(now, window), now))


def _normal(channel: Channel, destination: str) -> bytes:
    return f"{channel.value}:{''.join(destination.split()).lower()}".encode()


def destination_key(channel: Channel, destination: str) -> str:
    """A stable key for the per-destination throttle (no phone number or address in it).

    Unkeyed: a phone number has too little entropy for its hash to hide it. What is stored
    uses :func:`keyed_destination_key`."""
    return hashlib.sha256(_normal(channel, destination)).hexdigest()[:32]


def keyed_destination_key(keys: KeyProvider, channel: Channel, destination: str) -> str:
    """The stored key of a destination's send log: HMAC-SHA256 under the current key of
    ``keys`` over the normalised channel and destination, prefixed with the key id (so a
    key rotation starts new logs rather than mixing two keys)."""
    key_id = keys.current_key_id
    digest = keys.mac(key_id, b"securebox/oob/destination/v1\x00" + _normal(channel, destination))
    return f"{key_id}.{digest.hex()[:40]}"


@dataclass(frozen=True, slots=True)
class OobChallenge:
    """A code waiting to be typed, stored under ``id``. Holds no code, only its hash."""

    id: str
    principal: str
    channel: Channel
    #: What asked for the code: ``login`` or ``step_up``, and a reference (the login
    #: attempt, or the operation's name).
    purpose: str
    reference: str
    digest: str | None
    code_hash: str = field(repr=False)
    issued_at: datetime
    expires_at: datetime
    wrong: int = 0
    consumed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OobMessage:
    """What a gateway delivers. The code is in ``body``: never log a message."""

    channel: Channel
    destination: str = field(repr=False)
    subject: str
    body: str = field(repr=False)
    reference: str


@dataclass(frozen=True, slots=True)
class IssueResult:
    ok: bool
    #: ``too_soon``, ``throttled_user`` or ``throttled_destination`` when not ``ok``.
    reason: str | None
    challenge: OobChallenge | None
    message: OobMessage | None
    code: OneTimeCode | None
    user_log: SendLog
    destination_log: SendLog
    events: tuple[AuditEvent, ...]
    retry_after: datetime | None = None


def _text(
    channel: Channel, code: str, rules: OobRules, display: tuple[tuple[str, str], ...]
) -> str:
    minutes = int(rules.lifetime.total_seconds() // 60)
    what = "to confirm " + ", ".join(f"{k} {v}" for k, v in display) if display else "to log in"
    return f"{rules.issuer}: {code} is your code {what}. Valid {minutes} min. {_WARNING}"


def issue_oob(
    principal: Principal,
    *,
    channel: Channel,
    destination: str,
    purpose: str,
    reference: str,
    now: datetime,
    rules: OobRules,
    hasher: CodeHasher,
    user_log: SendLog,
    destination_log: SendLog,
    digest: str | None = None,
    display: tuple[tuple[str, str], ...] = (),
    code: str | None = None,
) -> IssueResult:
    """A new code for ``principal``, bound to ``(purpose, reference, digest)``, unless the
    throttle refuses. ``display`` is what the message shows (``OperationRequest.display()``);
    ``code`` exists for deterministic tests."""
    now = require_aware(now)
    if not isinstance(destination, str) or not 3 <= len(destination) <= 254:
        raise MalformedInput("a destination is a phone number or an e-mail address")
    mine = user_log.recent(now, rules.throttle_window)
    theirs = destination_log.recent(now, rules.throttle_window)
    reason, retry = None, None
    if mine and now - mine[-1] < rules.min_interval:
        reason, retry = "too_soon", mine[-1] + rules.min_interval
    elif len(mine) >= rules.per_user:
        reason, retry = "throttled_user", mine[0] + rules.throttle_window
    elif len(theirs) >= rules.per_destination:
        reason, retry = "throttled_destination", theirs[0] + rules.throttle_window
    details = {"channel": channel.value, "purpose": purpose, "reference": reference}
    if reason is not None:
        event = AuditEvent.make(
            now,
            "oob.issue",
            actor=principal.key,
            subject=principal.key,
            outcome="refused",
            details={**details, "reason": reason},
        )
        return IssueResult(
            False, reason, None, None, None, user_log, destination_log, (event,), retry
        )
    value = code if code is not None else f"{secrets.randbelow(10**rules.digits):0{rules.digits}d}"
    if len(value) != rules.digits or not value.isdigit():
        raise ConfigurationError("a fixed test code must have the configured number of digits")
    challenge_id = secrets.token_urlsafe(18)
    challenge = OobChallenge(
        id=challenge_id,
        principal=principal.key,
        channel=channel,
        purpose=purpose,
        reference=reference,
        digest=digest,
        code_hash=hasher.hash(principal, _peppered_input(challenge_id, value)),
        issued_at=now,
        expires_at=now + rules.lifetime,
    )
    subject = f"{rules.issuer}: your security code"
    message = OobMessage(
        channel, destination, subject, _text(channel, value, rules, display), challenge_id
    )
    event = AuditEvent.make(
        now,
        "oob.issue",
        actor=principal.key,
        subject=principal.key,
        outcome="success",
        details={
            **details,
            "challenge": challenge_id,
            "expires_at": challenge.expires_at.isoformat(),
        },
    )
    return IssueResult(
        True,
        None,
        challenge,
        message,
        OneTimeCode(value),
        user_log.with_send(now, rules.throttle_window),
        destination_log.with_send(now, rules.throttle_window),
        (event,),
    )


def inactive_issue(issued: IssueResult) -> IssueResult:
    """``issued`` for a principal whose account is missing or not active: the same answer
    (no existence oracle, ASVS 5.0 6.3.8), audited as ``refused`` (reason ``inactive``). The
    shell stores its challenge (it can never verify: the account is not active) and sends
    nothing."""
    events = tuple(
        AuditEvent.make(
            e.at,
            e.action,
            actor=e.actor,
            subject=e.subject,
            outcome="refused",
            details={**dict(e.details), "reason": "inactive"},
        )
        for e in issued.events
    )
    return replace(issued, events=events)


def _peppered_input(challenge_id: str, code: str) -> str:
    # Domain-separated from confidential codes, and bound to this challenge.
    return f"oob:{challenge_id}:{code}"
