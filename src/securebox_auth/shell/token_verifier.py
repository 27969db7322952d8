"""The shell of assertion verification: the clock, the expected subject, single use.

:func:`~securebox_auth.tokens.assertions.verify_assertion` is pure and would accept a
grant-carrying assertion again and again until its ``exp``. :class:`AssertionVerifier` adds
what needs a store: when the requirement spends a single-use grant (or when asked), the
assertion's ``jti`` is **consumed** by inserting a factor record ``(sub, "assertion_jti",
jti)`` with expected version 0, and so is the grant it spends (``(sub, "assertion_grant",
key)``: every assertion of a session carries the session's grants, and the portal's
``execute`` records the grants it consumes the same way, :mod:`.spent_grants`), in one
commit: the
store's own single-use mechanism (the one that consumes step-up challenges). Of any number
of concurrent verifications, in any number of processes, exactly one inserts them; the
others get :class:`~securebox_auth.tokens.claims.TokenReplayed`. A commit that lost to
contention (a busy database) is tried again (:func:`~securebox_auth.shell.retry.
commit_retrying`): only a stored record is a replay.

Every verification also reads the subject's end-all watermark (``records.WATERMARK``: a log
out everywhere, an account recovery, the user's removal): an assertion whose login is not
later than it is :class:`~securebox_auth.tokens.claims.TokenRevoked` (ADR 0067), as the
session it came from is dead. On a store that is not the portal's, the record never
exists and the read costs one lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.identity import Principal
from securebox_auth.shell import records
from securebox_auth.shell.retry import commit_retrying
from securebox_auth.shell.spent_grants import ASSERTION_GRANT, grant_key, spend
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState
from securebox_auth.tokens.assertions import ALGORITHMS, TokenKeys, verify_assertion
from securebox_auth.tokens.claims import TokenReplayed, TokenRevoked
from securebox_auth.tokens.requirement import AssertionRequirement, VerifiedAssertion

__all__ = ["ASSERTION_GRANT", "ASSERTION_JTI", "AssertionVerifier", "grant_key"]

#: The factor kind of consumed assertion ids (item: the ``jti``, under the ``sub``).
ASSERTION_JTI: Final = "assertion_jti"


@dataclass(frozen=True, slots=True)
class AssertionVerifier:
    """Verify assertions for one audience, and consume those that spend a grant.

    ``verify(token, subject=..., requirement=...)`` checks the assertion
    (:func:`~securebox_auth.tokens.assertions.verify_assertion` at the clock's ``now``), that
    it names
    ``subject`` (the principal the caller acts for: a session's, an account's), and, when
    ``requirement.consumes`` (a single-use operation) or ``consume=True``, records its
    ``jti`` once in ``store``. The record is kept (like a consumed challenge): a deployment
    may delete records whose ``exp`` has passed.
    """

    keys: TokenKeys
    issuer: str
    audience: str
    store: AuthStore
    clock: Clock = field(default_factory=SystemClock)
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway: timedelta = timedelta(0)

    def verify(
        self,
        token: object,
        *,
        subject: Principal,
        requirement: AssertionRequirement | None = None,
        consume: bool | None = None,
    ) -> VerifiedAssertion:
        now = self.clock.now()
        verified = verify_assertion(
            token,
            keys=self.keys,
            audience=self.audience,
            issuer=self.issuer,
            now=now,
            requirement=requirement,
            subject=subject,
            algorithms=self.algorithms,
            leeway=self.leeway,
        )
        ended_at = records.sessions_not_before(self.store, verified.subject)
        # ``auth_time`` travels in whole seconds: a login in the watermark's second counts
        # as before it (refused, never accepted late).
        if ended_at is not None and verified.auth_time <= ended_at:
            raise TokenRevoked("every session of this user was ended since: log in again")
        if consume is None:
            consume = requirement is not None and requirement.consumes
        if consume:
            self._consume(verified, requirement)
        return verified

    def _consume(
        self, verified: VerifiedAssertion, requirement: AssertionRequirement | None
    ) -> None:
        sub = verified.subject.key
        operation = None
        if requirement is not None:
            operation = requirement.operation or (
                requirement.request.operation if requirement.request is not None else None
            )
        details = {"jti": verified.jti, "audience": self.audience}
        if operation is not None:
            details["operation"] = operation
        record = {"exp": int(verified.expires_at.timestamp()), **details}
        changes: list[Change] = [
            PutFactorState(verified.subject, ASSERTION_JTI, verified.jti, 0, record)
        ]
        records = [(ASSERTION_JTI, verified.jti)]
        if verified.spent is not None:
            # Every assertion of the session carries the grant: the grant itself is spent
            # once, whichever assertion carries it (in the same commit as the jti).
            # ``execute`` records it the same way (shell.spent_grants): one spend in all.
            changes.append(spend(verified.subject, verified.spent, details))
            records.append((ASSERTION_GRANT, grant_key(verified.spent)))

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], bool]:
            if any(self.store.get_factor_state(verified.subject, *r) for r in records):
                replay = AuditEvent.make(
                    now, "assertion.consume", actor=sub, subject=sub, outcome="refused",
                    details={**details, "reason": "replayed"},
                )  # fmt: skip
                return [], [replay], False
            used = AuditEvent.make(
                now, "assertion.consume", actor=sub, subject=sub, outcome="success",
                details=details,
            )  # fmt: skip
            return changes, [used], True

        if not commit_retrying(self.store, self.clock, attempt, what="assertion"):
            raise TokenReplayed("the assertion or its step-up grant was already used")
