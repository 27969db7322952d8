"""A forgotten code replaced, pure: the user chooses a new one (after an e-mail link), or a
one-time code is issued (after a card proof, sent by SMS and changed at the next login).

Both keep the lockout state as it is (recovery replaces a credential; it does not lift a
block: RTS art. 4(5) leaves that to the bank's secure procedure, ``regenerate_code``), and
both keep the code history so an earlier code cannot come back.
"""

from __future__ import annotations

from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.errors import ConfigurationError, WeakCode
from securebox_auth.factors.code import CodeCredential, OneTimeCode, issue_one_time_code
from securebox_auth.factors.code_strength import CodeRules, require_strong, validate_code_syntax
from securebox_auth.identity import Principal

__all__ = ["chosen_code", "one_time_code"]


def _matches(hasher: CodeHasher, stored: str, principal: Principal, code: str) -> bool:
    """An earlier code (one whose pepper key was retired cannot be compared: skipped)."""
    try:
        return hasher.verify(stored, principal, code)
    except ConfigurationError:
        return False


def _event(now: datetime, principal: Principal, via: str, action: str) -> AuditEvent:
    return AuditEvent.make(
        now,
        action,
        actor=f"recovery:{via}",
        subject=principal.key,
        outcome="success",
        details={"via": via},
    )


def chosen_code(
    previous: CodeCredential | None,
    principal: Principal,
    new_code: object,
    *,
    now: datetime,
    hasher: CodeHasher,
    rules: CodeRules,
    via: str,
) -> tuple[CodeCredential, AuditEvent]:
    """The credential of the code the user chose; :class:`WeakCode` when the strength
    rules refuse it or it equals the current code or one of the ``rules.history`` before."""
    now = require_aware(now)
    code = validate_code_syntax(new_code)
    require_strong(code, rules, (principal.client_id.value, principal.user_number.value))
    earlier: tuple[str, ...] = ()
    if previous is not None:
        earlier = (previous.hash, *previous.history)[: rules.history + 1]
    if any(_matches(hasher, old, principal, code) for old in earlier):
        raise WeakCode(("previous_code",), rules.message("previous_code"))
    credential = CodeCredential(
        hash=hasher.hash(principal, code),
        set_at=now,
        must_change=False,
        expires_at=None,
        history=earlier[: rules.history],
    )
    return credential, _event(now, principal, via, "recovery.code_reset")


def one_time_code(
    previous: CodeCredential | None,
    principal: Principal,
    *,
    now: datetime,
    hasher: CodeHasher,
    rules: CodeRules,
    via: str,
) -> tuple[OneTimeCode, CodeCredential, tuple[AuditEvent, ...]]:
    """A new one-time code (changed at the next login, expiring after the policy's
    ``code.one_time_code_lifetime``)."""
    code, credential, issued = issue_one_time_code(
        previous, principal, actor=f"recovery:{via}", now=now, hasher=hasher, rules=rules
    )
    return code, credential, (issued, _event(now, principal, via, "recovery.code_reset"))
