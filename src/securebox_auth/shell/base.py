"""What the factor services share: the result type, the read of one attempt, the retry
loop (:func:`~securebox_auth.shell.retry.commit_retrying`) and the accounting of an attempt
against a record that does not exist (:mod:`securebox_auth.lockout.attempts`).

Each call reads the factor's state (a document decoded by
:mod:`securebox_auth.stores.factor_codecs`), the principal's shared
:class:`~securebox_auth.lockout.rules.LockoutState` and the account, calls the pure verifier of
:mod:`securebox_auth.factors`, and commits the new factor state, the new lockout state and
the audit events in **one** compare-and-swap commit, guarded on the account; a lost race
starts again from a fresh read, so a code is accepted at most once and two failures are
never counted as one. A principal whose account is missing or not active is treated as
having no factor: the attempt costs the same work and is counted the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypedDict, TypeVar, Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.factors.methods import AuthMethod
from securebox_auth.factors.outcome import Outcome
from securebox_auth.identity import Principal
from securebox_auth.lockout.attempts import blocked_refusal, register_failure
from securebox_auth.lockout.rules import Element, LockoutAlert, LockoutRules, LockoutState
from securebox_auth.shell.retry import DEFAULT_BACKOFF, Attempt, Backoff, commit_retrying
from securebox_auth.stores.principal_reads import read_principal
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutFactorState,
    PutLockout,
    Versioned,
)

__all__ = [
    "DEFAULT_ITEM",
    "USER_SENDS",
    "FactorRead",
    "FactorResult",
    "FactorShell",
    "ShellOptions",
    "Step",
]

#: The item of the factors a principal has one of (TOTP, recovery codes, passkey set).
DEFAULT_ITEM: Final = "default"
#: The item of a principal's own out-of-band send log (kind ``oob_sends``).
USER_SENDS: Final = "user"

R = TypeVar("R")
Document = Mapping[str, Any]
Write = tuple[str, str, Document | None]


@dataclass(frozen=True, slots=True)
class FactorResult:
    """What a form may show. ``reason`` is for the caller's logs, never for the user."""

    outcome: Outcome
    principal: Principal
    at: datetime
    reason: str | None = None
    method: AuthMethod | None = None
    alert: LockoutAlert = LockoutAlert.NONE
    blocked_until: datetime | None = None
    #: Recovery codes: few are left (tell the user to make new ones).
    running_low: bool = False
    #: The dynamic-linking digest a successful code proved (CAP Sign/TDS, linked OOB).
    digest: str | None = None
    #: The principal's lockout state once this attempt is committed: the flows decide with
    #: it instead of reading it again (not for a form).
    lockout: LockoutState | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


#: What one attempt returns to the retry loop.
Step = tuple[list[Change], Sequence[AuditEvent], R]


@dataclass(slots=True)
class FactorRead:
    """What one attempt read: the lockout, the account guard, the factor documents."""

    principal: Principal
    lockout: Versioned[LockoutState]
    active: bool
    guard: Expect
    states: dict[tuple[str, str], Versioned[Document] | None]

    def doc(self, kind: str, item: str) -> Document | None:
        found = self.states[(kind, item)]
        return None if found is None or not self.active else found.value

    def decoded(self, kind: str, item: str, decode: Callable[[Document], R]) -> R | None:
        document = self.doc(kind, item)
        return None if document is None else decode(document)

    def changes(self, lockout: LockoutState, writes: Sequence[Write]) -> list[Change]:
        """The guard, the lockout if it moved, and each factor document that changed."""
        changes: list[Change] = [self.guard]
        if lockout != self.lockout.value:
            changes.append(PutLockout(self.principal, self.lockout.version, lockout))
        for kind, item, document in writes:
            stored = self.states[(kind, item)]
            if document is None or (stored is not None and stored.value == document):
                continue
            version = 0 if stored is None else stored.version
            changes.append(PutFactorState(self.principal, kind, item, version, document))
        return changes


class ShellOptions(TypedDict, total=False):
    """What every factor service takes besides its own dependencies (all optional)."""

    clock: Clock | None
    lockout_rules: LockoutRules | None
    backoff: Backoff
    sleep: Callable[[float], None]


class FactorShell:
    """The store, clock, lockout rules and retry policy every factor service has."""

    def __init__(self, store: AuthStore, **options: Unpack[ShellOptions]) -> None:
        self.store = store
        self.clock: Clock = options.get("clock") or SystemClock()
        self.lockout_rules = options.get("lockout_rules") or LockoutRules()
        self.backoff = options.get("backoff", DEFAULT_BACKOFF)
        self._sleep = options.get("sleep", time.sleep)

    def _run(self, attempt: Attempt[R]) -> R:
        return commit_retrying(
            self.store, self.clock, attempt, backoff=self.backoff, sleep=self._sleep,
            what="principal",
        )  # fmt: skip

    def _read(self, principal: Principal, keys: Sequence[tuple[str, str]]) -> FactorRead:
        found = read_principal(self.store, principal, factors=keys)
        account, lockout = found.account, found.lockout_state()
        return FactorRead(
            principal,
            lockout,
            account is not None and account.value.active,
            Expect("account", principal, 0 if account is None else account.version),
            dict(found.factors),
        )

    @staticmethod
    def _result(
        outcome: Outcome,
        principal: Principal,
        now: datetime,
        reason: object,
        lockout: LockoutState,
        alert: LockoutAlert,
        method: AuthMethod | None = None,
        **extra: Any,
    ) -> FactorResult:
        return FactorResult(
            outcome,
            principal,
            now,
            None if reason is None else str(getattr(reason, "value", reason)),
            method,
            alert,
            lockout.blocked_until if outcome is Outcome.BLOCKED else None,
            **extra,
            lockout=lockout,
        )

    def _missing(
        self, read: FactorRead, now: datetime, action: str, reason: str, element: Element
    ) -> Step[FactorResult]:
        """An attempt against a factor record that does not exist: refused when blocked,
        else counted as a failure."""
        lockout = read.lockout.value
        subject = read.principal.key
        refused = blocked_refusal(lockout, subject=subject, action=action, now=now)
        if refused is not None:
            result = self._result(
                Outcome.BLOCKED, read.principal, now, "blocked", lockout, LockoutAlert.NONE
            )
            return read.changes(lockout, ()), (refused,), result
        failed = register_failure(
            lockout,
            subject=subject,
            action=action,
            reason=reason,
            now=now,
            rules=self.lockout_rules,
            element=element,
        )
        outcome = Outcome.BLOCKED if failed.blocked else Outcome.REJECTED
        result = self._result(outcome, read.principal, now, reason, failed.state, failed.alert)
        return read.changes(failed.state, ()), failed.events, result

    def _put(
        self,
        principal: Principal,
        kind: str,
        item: str,
        document: Document | None,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        """Store (or delete, with ``None``) a factor document, whatever its version."""

        def attempt(_: datetime) -> Step[None]:
            stored = self.store.get_factor_state(principal, kind, item)
            if document is None and stored is None:
                return [], (), None
            version = 0 if stored is None else stored.version
            return [PutFactorState(principal, kind, item, version, document)], events, None

        self._run(attempt)
