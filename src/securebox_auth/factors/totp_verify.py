"""Checking a TOTP code (RFC 6238 over RFC 4226): the window, replay of a used step, the
dummy work for a missing credential, and the confirmation of an enrolment.

Re-exported by :mod:`securebox_auth.factors.totp` (ADR 0019).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import UTC, datetime
from typing import Final

from securebox_auth.clock import require_aware
from securebox_auth.errors import InvalidCode
from securebox_auth.factors.hotp import decode_seed, hotp
from securebox_auth.factors.outcome import Outcome, count_failure, refusal, success_event
from securebox_auth.factors.totp_credential import (
    TotpCredential,
    TotpFailure,
    TotpRules,
    TotpVerdict,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    Element,
    LockoutAlert,
    LockoutRules,
    LockoutState,
    record_success,
)

__all__ = ["code_at", "confirm_totp", "verify_totp"]


def _step(credential: TotpCredential, now: datetime) -> int:
    return int(now.timestamp()) // credential.period


def code_at(credential: TotpCredential, now: datetime) -> str:
    """The code the authenticator application shows at ``now`` (demos and tests)."""
    c = credential
    key = decode_seed(c.secret)
    return hotp(key, _step(c, require_aware(now)), digits=c.digits, algorithm=c.algorithm)


# The current step first: the usual case costs one HMAC.
_OFFSETS: Final = tuple(
    (0, *(o for w in range(1, window + 1) for o in (-w, w))) for window in range(3)
)


def _matching_step(credential: TotpCredential, code: str, current: int, window: int) -> int | None:
    if len(code) != credential.digits:
        return None
    key = decode_seed(credential.secret)  # once per verification, not once per step tried
    digits, algorithm = credential.digits, credential.algorithm
    for offset in _OFFSETS[window]:
        step = current + offset
        if step >= 0 and hmac.compare_digest(
            hotp(key, step, digits=digits, algorithm=algorithm), code
        ):
            return step
    return None


# A seed nobody has, so that an attempt for a principal without TOTP costs the same work.
_DUMMY: Final = TotpCredential(
    secret=base64.b32encode(secrets.token_bytes(20)).decode().rstrip("="),
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
)


_DEFAULT_RULES: Final = TotpRules()


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
    checked = credential or _DUMMY
    current = _step(checked, now)
    step = _matching_step(checked, typed, current, rules.window)
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
    event = success_event(now, action, subject, (("drift", str(step - current)),))
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
        rules=rules or _DEFAULT_RULES,
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
        rules=rules or _DEFAULT_RULES,
        lockout_rules=lockout_rules,
        action="totp.confirm",
        confirming=True,
    )
