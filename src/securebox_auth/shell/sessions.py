"""The shell of sessions: open under a generated identifier, step up with rotation, end.

A session identifier is drawn by the library when the session is stored
(:class:`~securebox_auth.stores.protocols.OpenSession`), and replaced whenever the session's
authentication level changes: :meth:`SessionService.step_up` records the proofs of a
verified step-up and commits them with
:class:`~securebox_auth.stores.protocols.RotateSession`, so the identifier the user agent
held before the step-up (which an attacker may have planted or read) is dead once the
session is stronger (session fixation, ASVS 5 7.2.4; PSD2 RTS art. 4(3)(c)). A store refuses
to change a session's proofs in place, so no other path can promote a session without a new
identifier.

Audit records name a session by :func:`~securebox_auth.policy.session_ids.session_ref`, never by its
identifier.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.errors import NotAuthenticated
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.book import PolicyBook
from securebox_auth.policy.decision import Challenge, Decision
from securebox_auth.policy.engine import complete_step_up
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Session, expiry
from securebox_auth.policy.session_ids import is_session_id, session_ref
from securebox_auth.shell.retry import DEFAULT_BACKOFF, Backoff, commit_retrying
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    EndSession,
    OpenSession,
    PutSession,
    RotateSession,
    Versioned,
)

__all__ = ["SessionService", "StepUpResult"]

R = TypeVar("R")
_GONE: Final = "no live session: log in again"


@dataclass(frozen=True, slots=True)
class StepUpResult:
    """The engine's decision on a step-up and the session after it. ``session_id`` is the
    identifier to use from now on: a new one whenever the proofs changed (``rotated``)."""

    decision: Decision
    session: Session
    session_id: str = field(repr=False)
    rotated: bool


class SessionService:
    """Sessions in a store: the only place a session identifier is made or changed."""

    def __init__(
        self,
        store: AuthStore,
        *,
        clock: Clock | None = None,
        policy: Policy | PolicyBook | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.backoff = backoff
        self._sleep = sleep
        self.clock: Clock = clock or SystemClock()
        self.policies = (
            policy if isinstance(policy, PolicyBook) else PolicyBook(policy or PSD2_DEFAULT)
        )

    def open(
        self,
        session: Session,
        *,
        changes: Sequence[Change] = (),
        events: Sequence[AuditEvent] = (),
    ) -> str:
        """Store the session a login opened (``decide_login(...).session``) under a new
        identifier, with the login's other ``changes`` and ``events`` in the same commit;
        return the identifier (to set in the user agent's cookie)."""
        change = OpenSession(session)
        opened = self._event(session, "session.open", {"session": session_ref(change.session_id)})
        self.store.commit([*changes, change], [*events, opened])
        return change.session_id

    def get(self, session_id: str) -> Versioned[Session]:
        """The live session, or :class:`~securebox_auth.errors.NotAuthenticated` (also for
        anything that is not an identifier this library made)."""
        found = self.store.get_session(session_id) if is_session_id(session_id) else None
        if found is None:
            raise NotAuthenticated(_GONE)
        return found

    def rotate(self, session_id: str, *, reason: str = "requested") -> str:
        """Give the session a new identifier (same facts); the old one ends in the same
        commit. Of concurrent rotations exactly one succeeds; the others raise
        :class:`~securebox_auth.errors.NotAuthenticated` (the identifier they hold is dead)."""

        def attempt(_: datetime) -> tuple[list[Change], list[AuditEvent], str]:
            found = self.get(session_id)
            change = RotateSession(session_id, found.version, found.value)
            return [change], [self._rotated(found.value, change, reason)], change.new_session_id

        return self._run(attempt)

    def step_up(
        self,
        session_id: str,
        challenge: Challenge,
        *,
        methods: Sequence[str],
    ) -> StepUpResult:
        """Record a verified step-up: the session's principal proved ``methods`` now, for
        ``challenge`` (from the engine's ``StepUpRequired``). The caller verified the
        factors (:class:`~securebox_auth.shell.factors.FactorService`) first.

        When the proofs change (granted, and also a step-up too weak for its operation), the
        session moves to a new identifier in the same commit; a denial that changed nothing
        stores nothing and keeps the identifier.
        """

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], StepUpResult]:
            found = self.get(session_id)
            before = found.value
            outcome = complete_step_up(
                self.policies.for_subscription(before.principal.client_id),
                before,
                challenge,
                principal=before.principal,
                methods=methods,
                now=now,
                lockout=self.store.get_lockout(before.principal).value,
                grant_id=secrets.token_urlsafe(16),
            )
            after = outcome.session
            if after == before:
                return [], [], StepUpResult(outcome.decision, before, session_id, rotated=False)
            change: Change
            if after.proofs != before.proofs:
                change = RotateSession(session_id, found.version, after)
                new_id = change.new_session_id
                events = [self._rotated(after, change, "step_up")]
            else:
                change = PutSession(session_id, found.version, after)
                new_id, events = session_id, []
            rotated = new_id != session_id
            return [change], events, StepUpResult(outcome.decision, after, new_id, rotated=rotated)

        return self._run(attempt)

    def end(self, session_id: str) -> None:
        """Log out: the identifier can never be used again. Ending a session that is
        already gone raises :class:`~securebox_auth.errors.NotAuthenticated`."""

        def attempt(_: datetime) -> tuple[list[Change], list[AuditEvent], None]:
            found = self.get(session_id)
            ended = self._event(found.value, "session.end", {"session": session_ref(session_id)})
            return [PutSession(session_id, found.version, None)], [ended], None

        self._run(attempt)

    def sessions_of(self, principal: Principal) -> list[tuple[str, Session]]:
        """The live sessions of ``principal`` ("where am I logged in"), oldest first, each
        with a non-secret reference (the start of its stored key) to end it with
        :meth:`end_by_ref`; never their identifiers, which the store does not keep. A session
        past its idle timeout or absolute lifetime stays stored until it is cleaned up, but
        it is no longer live: it is left out."""
        return [(key[:16], found.value) for key, found in self._live(principal, self.clock.now())]

    def end_by_ref(self, principal: Principal, ref: str) -> bool:
        """End the session of ``principal`` that :meth:`sessions_of` listed as ``ref`` (a
        "log out that device"). False when no live session of ``principal`` has it: one
        already ended, another principal's, or one past its idle timeout or lifetime (which
        no list shows and no request can use any more)."""

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], bool]:
            for key, found in self._live(principal, now):
                if key[:16] == ref:
                    ended = self._event(found.value, "session.end", {"session": ref})
                    return [EndSession(key, found.version)], [ended], True
            return [], [], False

        return self._run(attempt)

    def _live(self, principal: Principal, now: datetime) -> list[tuple[str, Versioned[Session]]]:
        """The stored sessions of ``principal`` that have not expired at ``now``."""
        rules = self.policies.for_subscription(principal.client_id).session
        stored = self.store.sessions_of(principal)
        return [(key, found) for key, found in stored if expiry(found.value, rules, now) is None]

    def end_all(self, principal: Principal, *, reason: str = "requested") -> int:
        """End every live session of ``principal`` in one commit (a log out everywhere, a
        removed user, a changed or lost factor); returns how many ended. Each is ended by
        compare-and-swap on the version read, so a session touched meanwhile makes the
        commit start again from a fresh list; a login that completes after the list was read
        is a new session, not ended."""

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], int]:
            live = self.store.sessions_of(principal)
            changes: list[Change] = [EndSession(key, found.version) for key, found in live]
            who = principal.key
            event = AuditEvent.make(
                now,
                "session.end_all",
                actor=who,
                subject=who,
                outcome="success",
                details={"count": str(len(live)), "reason": reason},
            )
            return changes, [event], len(live)

        return self._run(attempt)

    def _run(self, attempt: Callable[[datetime], tuple[list[Change], list[AuditEvent], R]]) -> R:
        return commit_retrying(
            self.store, self.clock, attempt, backoff=self.backoff, sleep=self._sleep,
            what="session",
        )  # fmt: skip

    def _rotated(self, session: Session, change: RotateSession, reason: str) -> AuditEvent:
        return self._event(
            session,
            "session.rotate",
            {
                "from": session_ref(change.session_id),
                "to": session_ref(change.new_session_id),
                "reason": reason,
                "methods": ",".join(session.methods),
            },
        )

    def _event(self, session: Session, action: str, details: dict[str, str]) -> AuditEvent:
        who = session.principal.key
        return AuditEvent.make(
            self.clock.now(), action, actor=who, subject=who, outcome="success", details=details
        )
