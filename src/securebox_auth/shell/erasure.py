"""What the removal of a user erases: the records of what the person enrolled or proved
(:data:`~securebox_auth.stores.factor_kinds.ERASED_WITH_ACCOUNT`), dropped in the removal's
own commit so that the next holder of the user number enrols afresh (ADR 0069)."""

from __future__ import annotations

from datetime import datetime

from securebox_auth.audit import AuditEvent
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_kinds as fk
from securebox_auth.stores.protocols import AuthStore, Change, DropFactorState

__all__ = ["erase_factors"]


def erase_factors(
    store: AuthStore, principal: Principal, now: datetime, actor: str
) -> tuple[list[Change], list[AuditEvent]]:
    """The changes that erase every record of ``principal`` of the kinds
    :data:`~securebox_auth.stores.factor_kinds.ERASED_WITH_ACCOUNT` (each dropped by
    compare-and-swap on the version read, so a change committed meanwhile makes the caller
    read again; the next holder of the number enrols afresh under the same items), and the
    ``factor.erase`` event naming the kinds erased (none when nothing was stored)."""
    found = store.factor_states_of(principal, fk.ERASED_WITH_ACCOUNT)
    changes: list[Change] = [
        DropFactorState(principal, kind, item, stored.version)
        for kind, items in found.items()
        for item, stored in items
    ]
    if not changes:
        return [], []
    kinds = sorted(kind for kind, items in found.items() if items)
    event = AuditEvent.make(
        now, "factor.erase", actor=actor, subject=principal.key, outcome="success",
        details={"kinds": " ".join(kinds), "count": str(len(changes)), "reason": "user_removed"},
    )  # fmt: skip
    return changes, [event]
