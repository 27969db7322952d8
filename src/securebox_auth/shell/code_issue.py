"""A new one-time code issued for a user by someone else (the bank's back office, the
portal's administrator, a card recovery), for the caller's one commit.

Whoever issues it, the same things happen together: the old code stops working, a block
is lifted (the secure procedure to regain use, RTS art. 4(5)), and **every session of the
user ends** with the sessions' ``not_before`` watermark moved (ASVS 5.0 7.4.3: the
sessions end after a change of an authentication factor). A code is reissued because it
was forgotten, or because someone else may know it: a session opened with it, or a
recovery begun before, must not outlive it (ADR 0070).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.factors.code import OneTimeCode, issue_one_time_code
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.identity import Principal
from securebox_auth.lockout.attempts import unblock_event
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.shell.records import end_every_session
from securebox_auth.stores.protocols import AuthStore, Change, PutCode, PutLockout

__all__ = ["reissued_code"]


def reissued_code(
    store: AuthStore,
    target: Principal,
    *,
    actor: str,
    now: datetime,
    hasher: CodeHasher,
    rules: CodeRules,
    reason: str,
) -> tuple[OneTimeCode, list[Change], Sequence[AuditEvent]]:
    """The one-time code and what issuing it writes at ``now``: the code (guarded on the
    one read), the block lifted if there is one, every session ended and the watermark
    (``reason`` in the ``session.end_all`` event), with their audit events."""
    stored = store.get_code(target)
    lockout = store.get_lockout(target)
    code, credential, issued = issue_one_time_code(
        stored.value if stored else None, target, actor=actor, now=now, hasher=hasher,
        rules=rules,
    )  # fmt: skip
    changes: list[Change] = [PutCode(target, stored.version if stored else 0, credential)]
    events = [issued]
    if lockout.value != LockoutState():
        changes.append(PutLockout(target, lockout.version, LockoutState()))
        events.append(unblock_event(lockout.value, actor=actor, subject=target.key, now=now))
    ended, sessions = end_every_session(store, target, now, reason=reason)
    return code, [*changes, *ended], [*events, sessions]
