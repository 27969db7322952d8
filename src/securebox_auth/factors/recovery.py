"""Recovery codes: a set of single-use look-up secrets, shown once, stored hashed.

Each code has 80 random bits from :mod:`secrets` (16 Crockford base32 characters, shown as
``XXXX-XXXX-XXXX-XXXX``; NIST SP 800-63B-4 asks at least 64 bits of saved recovery codes).
Only a peppered argon2id hash of each code is stored (the confidential code's
:class:`~securebox_auth.crypto.hashing.CodeHasher`, under its own domain tag), with a 16-bit
*hint*: an HMAC of the code under a key of the :class:`~securebox_auth.crypto.keys.KeyProvider`,
so an attempt costs one argon2 verification instead of one per stored code. Without the key
the hint says nothing; with it, 64 bits of search remain per code.

A recovery code is ``methods.RECOVERY_CODE``: it proves no category for strong customer
authentication, so the policy never counts it as strong, alone or with anything else. Use
it where the policy allows (a way back into the account to enrol a new factor), tell the
user every time one is used (NIST SP 800-63B-4 section 4.2), and offer a new set when few
remain. Every failure counts on the principal's shared lockout state (recovery is an entry
path like the others, PSD2 RTS art. 4(3)(b)).
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import ConfigurationError, InvalidCode
from securebox_auth.factors.methods import RECOVERY_CODE, AuthMethod
from securebox_auth.factors.outcome import Outcome, count_failure, refusal
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

__all__ = [
    "RecoveryCode",
    "RecoveryCodeRules",
    "RecoveryFailure",
    "RecoverySet",
    "RecoveryVerdict",
    "RevealedCodes",
    "generate_recovery_codes",
    "normalise_recovery_code",
    "verify_recovery_code",
]

#: Crockford base32: no I, L, O, U (read as 1, 1, 0; U is not used).
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_HINT_TAG: Final = b"securebox/recovery/hint/v1\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryCodeRules:
    count: int = 10
    #: Characters per code, 5 bits each (16 = 80 bits; at least 13 = 65 bits).
    length: int = 16
    #: Codes left at which the user is told to make a new set.
    low_warning: int = 3

    def __post_init__(self) -> None:
        if not 4 <= self.count <= 20:
            raise ConfigurationError("recovery.count must be 4 to 20 codes")
        if not 13 <= self.length <= 32 or self.length % 4 not in (0, 1, 2, 3):
            raise ConfigurationError("recovery.length must be 13 to 32 characters (>= 64 bits)")
        if not 0 <= self.low_warning < self.count:
            raise ConfigurationError("recovery.low_warning must be below count")

    @property
    def bits(self) -> int:
        return self.length * 5


@dataclass(frozen=True, slots=True)
class RecoveryCode:
    """One stored code: its hint, its hash, and when it was used."""

    hint: str
    hash: str = field(repr=False)
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecoverySet:
    """A principal's recovery codes. A new set replaces the old one entirely."""

    codes: tuple[RecoveryCode, ...]
    created_at: datetime
    #: The key (of the key provider) the hints were made with.
    hint_key: str

    @property
    def remaining(self) -> int:
        return sum(1 for c in self.codes if c.used_at is None)


class RevealedCodes:
    """New codes, to show once. Nothing appears in ``repr``; call :meth:`reveal`."""

    __slots__ = ("_codes",)

    def __init__(self, codes: tuple[str, ...]) -> None:
        self._codes = codes

    def reveal(self) -> tuple[str, ...]:
        return self._codes

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"RevealedCodes(<{len(self._codes)} hidden>)"

    __str__ = __repr__


def _group(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_recovery_code(text: object, rules: RecoveryCodeRules) -> str:
    """The canonical form of what a user typed (case, spaces and dashes ignored; O read as
    0, I and L as 1). Raises :class:`InvalidCode` when it cannot be a recovery code."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidCode("a recovery code is letters and digits")
    value = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(value) != rules.length or any(ch not in _ALPHABET for ch in value):
        raise InvalidCode("a recovery code is letters and digits")
    return value


def _hint(keys: KeyProvider, key_id: str, principal: Principal, code: str) -> str:
    message = _HINT_TAG + principal.key.encode() + b"\x00" + code.encode()
    try:
        return keys.mac(key_id, message)[:2].hex()
    except KeyError:
        raise ConfigurationError(f"recovery hint key {key_id!r} is not available") from None


def _hash_input(code: str) -> str:
    return f"recovery:{code}"


def generate_recovery_codes(
    principal: Principal,
    *,
    now: datetime,
    hasher: CodeHasher,
    keys: KeyProvider,
    rules: RecoveryCodeRules | None = None,
    actor: str | None = None,
) -> tuple[RevealedCodes, RecoverySet, AuditEvent]:
    """A fresh set (the previous one stops working once this is stored)."""
    rules = rules or RecoveryCodeRules()
    now = require_aware(now)
    key_id = keys.current_key_id
    plain: list[str] = []
    stored: list[RecoveryCode] = []
    while len(plain) < rules.count:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(rules.length))
        if code in plain:
            continue
        plain.append(code)
        stored.append(
            RecoveryCode(
                _hint(keys, key_id, principal, code), hasher.hash(principal, _hash_input(code))
            )
        )
    event = AuditEvent.make(
        now,
        "recovery.generate",
        actor=actor or principal.key,
        subject=principal.key,
        outcome="success",
        details={"count": str(rules.count), "bits": str(rules.bits)},
    )
    return (
        RevealedCodes(tuple(_group(c) for c in plain)),
        RecoverySet(tuple(stored), now, key_id),
        event,
    )


class RecoveryFailure(enum.Enum):
    """Why an attempt failed, for the audit trail only; never shown to the user."""

    WRONG_CODE = "wrong_code"
    ALREADY_USED = "already_used"
    NO_CODES = "no_codes"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


@dataclass(frozen=True, slots=True)
class RecoveryVerdict:
    outcome: Outcome
    reason: RecoveryFailure | None
    recovery: RecoverySet | None
    lockout: LockoutState
    alert: LockoutAlert
    events: tuple[AuditEvent, ...]
    #: True when few codes remain: offer a new set.
    running_low: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def method(self) -> AuthMethod | None:
        """``recovery_code`` on success: it counts for no category of SCA."""
        return RECOVERY_CODE if self.ok else None

    @property
    def notify_user(self) -> bool:
        """A used recovery code is always notified to the user (NIST 800-63B-4 4.2)."""
        return self.ok


def verify_recovery_code(
    recovery: RecoverySet | None,
    lockout: LockoutState,
    principal: Principal,
    code: object,
    *,
    now: datetime,
    hasher: CodeHasher,
    keys: KeyProvider,
    lockout_rules: LockoutRules,
    rules: RecoveryCodeRules | None = None,
    path: str = "recovery",
) -> RecoveryVerdict:
    """One attempt with a recovery code; a match is used up. Costs one argon2 verification
    whatever happens (a dummy one when no stored code has the same hint)."""
    rules = rules or RecoveryCodeRules()
    now = require_aware(now)
    typed = normalise_recovery_code(code, rules)
    action = f"{path}.recovery_code"
    subject = principal.key
    refused = refusal(lockout, subject=subject, action=action, now=now)
    if refused is not None:
        text, event = refused
        return RecoveryVerdict(
            Outcome.BLOCKED, RecoveryFailure(text), recovery, lockout, LockoutAlert.NONE, (event,)
        )
    matched: int | None = None
    if recovery is not None:
        hint = _hint(keys, recovery.hint_key, principal, typed)
        for index, stored in enumerate(recovery.codes):
            if stored.hint == hint and hasher.verify(stored.hash, principal, _hash_input(typed)):
                matched = index
                break
        else:
            if not any(c.hint == hint for c in recovery.codes):
                hasher.verify_dummy(principal, _hash_input(typed))
    else:
        hasher.verify_dummy(principal, _hash_input(typed))
    if recovery is None or matched is None or recovery.codes[matched].used_at is not None:
        reason = RecoveryFailure.NO_CODES if recovery is None else RecoveryFailure.WRONG_CODE
        if matched is not None:
            reason = RecoveryFailure.ALREADY_USED
        outcome, record = count_failure(
            lockout,
            subject=subject,
            action=action,
            reason=reason.value,
            now=now,
            rules=lockout_rules,
            element=Element.RECOVERY,
        )
        return RecoveryVerdict(outcome, reason, recovery, record.state, record.alert, record.events)
    codes = list(recovery.codes)
    codes[matched] = replace(codes[matched], used_at=now)
    updated = replace(recovery, codes=tuple(codes))
    low = updated.remaining <= rules.low_warning
    event = AuditEvent.make(
        now,
        action,
        actor=subject,
        subject=subject,
        outcome="success",
        details={"remaining": str(updated.remaining), "running_low": str(low).lower()},
    )
    return RecoveryVerdict(
        Outcome.ACCEPTED,
        None,
        updated,
        record_success(lockout, element=Element.RECOVERY),
        LockoutAlert.NONE,
        (event,),
        low,
    )
