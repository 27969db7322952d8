"""What of a store is spent: the one-time records past their use, and the count of a purge.

Shared by the SQL stores' :func:`~securebox_auth.stores.sql.purge.purge_spent` and
:meth:`MemoryStore.purge_spent <securebox_auth.stores.memory.MemoryStore.purge_spent>`, so
that both forget exactly the same records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from securebox_auth.flows.codec import LOGIN_FLOW, STEP_UP_FLOW
from securebox_auth.stores import factor_kinds as fk

__all__ = ["ONE_TIME_KINDS", "Purged", "spent"]

#: The factor kinds of consumed assertion ids and of the single-use grants spent through an
#: assertion (``shell.token_verifier.ASSERTION_JTI`` and ``ASSERTION_GRANT``): each refuses a
#: replay until its ``exp``, and is never a tombstone.
_JTI: Final = "assertion_jti"
_GRANT: Final = "assertion_grant"
_BY_EXP: Final = (_JTI, _GRANT)
ONE_TIME_KINDS: Final = (
    fk.OOB,
    fk.WEBAUTHN_CEREMONY,
    fk.CAP_CHALLENGE,
    fk.CAP_DECOY,
    fk.CERT_CHALLENGE,
    LOGIN_FLOW,
    STEP_UP_FLOW,
    _JTI,
    _GRANT,
)


@dataclass(frozen=True, slots=True)
class Purged:
    """Rows deleted by one call."""

    sessions: int
    one_time: int


def spent(kind: str, state: str | None, now: datetime) -> bool:
    """Is this one-time row of no more use at ``now``? Unreadable documents are kept (a
    later version of the codec may know them)."""
    if kind not in ONE_TIME_KINDS:
        return False
    if state is None:
        return kind not in _BY_EXP  # a tombstone; a jti or grant row is never one (kept)
    try:
        doc = json.loads(state)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    if kind in _BY_EXP:
        exp = doc.get("exp")
        return isinstance(exp, int) and not isinstance(exp, bool) and exp < now.timestamp()
    text = doc.get("expires_at")
    if not isinstance(text, str):
        return False
    try:
        expires = datetime.fromisoformat(text)
    except ValueError:
        return False
    return expires.tzinfo is not None and expires < now
