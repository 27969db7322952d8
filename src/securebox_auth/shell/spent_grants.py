"""A single-use step-up grant is spent once, whichever path spends it.

A grant lives in the session that stepped up, and two paths can spend it: the portal's
own ``execute`` (the engine consumes it from the session) and a downstream service that
verifies an assertion carrying it (:class:`~securebox_auth.shell.token_verifier.
AssertionVerifier`: every assertion of the session carries the session's live grants).
Each path alone spends it once; across the two, removing the grant from the session does
not stop an assertion issued before, and recording it for assertions does not remove it
from the session. Both paths therefore insert the same record, ``(principal,
"assertion_grant", grant_key(grant))`` with expected version 0, in the commit that spends
the grant: of any two spends, in any order and any number of processes, one inserts it and
the other is refused (PSD2 RTS art. 4(1): an authentication code is accepted only once;
the grant is what the code bought).

``execute`` reads the record before it lets the engine consume a grant, and decides again
without a grant already spent (the user steps up again); a concurrent spend that inserts
it first makes the commit lose its compare-and-swap, and the next round reads it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Allow
from securebox_auth.policy.engine import OperationOutcome, decide_operation
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Grant, Session, without_grant
from securebox_auth.stores.protocols import AuthStore, Change, PutFactorState

__all__ = ["ASSERTION_GRANT", "decide_unspent", "grant_key", "spend"]

#: The factor kind of spent single-use step-up grants (item: :func:`grant_key`, under the
#: grant's principal), written by whichever path spends the grant first.
ASSERTION_GRANT: Final = "assertion_grant"


def grant_key(grant: Grant) -> str:
    """The record name of a spent grant (the subject is the record's owner): SHA-256 of its
    identifier (``gid`` in the assertion's ``grants`` claim), or, for a grant recorded
    without one, of its operation, digest and issue time: two such grants of one subject,
    operation and data issued in the same second are then spent once in all."""
    if grant.id:
        text = f"id\n{grant.id}"
    else:
        text = f"{grant.operation}\n{grant.digest or ''}\n{grant.issued_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def spend(principal: Principal, grant: Grant, details: dict[str, str]) -> PutFactorState:
    """The change that records ``grant`` as spent (to commit with what spends it): an
    insert, so that it conflicts with any other spend. Kept until the grant's expiry (a
    purge may delete it then: the grant can no longer be spent)."""
    record = {"exp": int(grant.expires_at.timestamp()), **details}
    return PutFactorState(principal, ASSERTION_GRANT, grant_key(grant), 0, record)


def decide_unspent(
    store: AuthStore,
    policy: Policy,
    session: Session,
    request: OperationRequest,
    *,
    now: datetime,
    lockout: LockoutState,
    path: str,
) -> tuple[OperationOutcome, list[Change]]:
    """:func:`~securebox_auth.policy.engine.decide_operation`, with the grants another path
    already spent left out of ``session``; and, when the decision consumes a single-use
    grant, the change recording it spent by ``path``."""
    principal = session.principal
    while True:
        outcome = decide_operation(policy, session, request, now=now, lockout=lockout)
        decision = outcome.decision
        grant = decision.consumed if isinstance(decision, Allow) else None
        if grant is None or not grant.single_use:
            return outcome, []
        if store.get_factor_state(principal, ASSERTION_GRANT, grant_key(grant)) is None:
            return outcome, [spend(principal, grant, {"operation": grant.operation, "by": path})]
        session = without_grant(session, grant)  # spent elsewhere: decide without it
