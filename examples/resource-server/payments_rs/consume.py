"""Single use of an approval, across every process of this service.

The library's :class:`~securebox_auth.shell.token_verifier.AssertionVerifier` consumes an
assertion's ``jti``. That stops a replay of **one** assertion, but a portal may ask the
reference server for several assertions of the same session, and each carries the session's
live grants: the same approval, under new ``jti`` values. A transfer is therefore recorded
against the **grant** as well: ``(sub, "payments_grant", sha256(op, digest, iat))``. Both
records are inserted with expected version 0 in **one** commit of the library's store (its
single-use mechanism, atomic on SQLite and PostgreSQL; the loser of a race gets
``ConcurrentUpdate`` and, on the next round, sees the record): exactly one request spends
a grant, whichever assertion and whichever process carries it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock
from securebox_auth.shell.retry import commit_retrying
from securebox_auth.shell.token_verifier import ASSERTION_JTI
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState
from securebox_auth.tokens.claims import TokenReplayed
from securebox_auth.tokens.requirement import VerifiedAssertion

__all__ = ["GRANT_KIND", "consume_grant", "grant_keys"]

#: The factor kind of spent grants (item: :func:`grant_keys`).
GRANT_KIND: Final = "payments_grant"


def grant_keys(verified: VerifiedAssertion, operation: str, digest: str | None) -> list[str]:
    """The keys of the assertion's grants for ``operation`` bound to ``digest``, oldest
    first (the raw ``grants`` claim: the library's reading drops the grants' ``iat``)."""
    found = verified.claims.get("grants")
    grants = [
        g
        for g in (found if isinstance(found, list) else [])
        if isinstance(g, dict) and g.get("op") == operation and g.get("digest") == digest
    ]
    grants.sort(key=lambda g: int(g.get("iat", 0)))
    return [
        hashlib.sha256(f"{operation}|{digest}|{int(g.get('iat', 0))}".encode()).hexdigest()
        for g in grants
    ]


def consume_grant(
    store: AuthStore,
    clock: Clock,
    verified: VerifiedAssertion,
    *,
    operation: str,
    digest: str | None,
    audience: str,
) -> str:
    """Spend the assertion (its ``jti``) and its oldest unspent grant for ``operation`` and
    ``digest`` in one commit; the grant's key. :class:`TokenReplayed` when the assertion
    was used already or every matching grant was spent; both outcomes are audited."""
    sub = verified.subject.key
    keys = grant_keys(verified, operation, digest)
    details = {"jti": verified.jti, "audience": audience, "operation": operation}
    record = {"exp": int(verified.expires_at.timestamp()), **details}

    def attempt(now: datetime) -> tuple[Sequence[Change], Sequence[AuditEvent], str | None]:
        def event(outcome: str, **extra: str) -> AuditEvent:
            return AuditEvent.make(
                now, "payments.approval", actor=sub, subject=sub, outcome=outcome,
                details={**details, **extra},
            )  # fmt: skip

        if store.get_factor_state(verified.subject, ASSERTION_JTI, verified.jti) is not None:
            return [], [event("refused", reason="assertion_replayed")], None
        free = [k for k in keys if store.get_factor_state(verified.subject, GRANT_KIND, k) is None]
        if not free:
            return [], [event("refused", reason="grant_spent")], None
        changes: list[Change] = [
            PutFactorState(verified.subject, ASSERTION_JTI, verified.jti, 0, record),
            PutFactorState(verified.subject, GRANT_KIND, free[0], 0, {**record, "grant": free[0]}),
        ]
        return changes, [event("success", grant=free[0])], free[0]

    spent = commit_retrying(store, clock, attempt, what="approval")
    if spent is None:
        raise TokenReplayed("the approval was already used")
    return spent
