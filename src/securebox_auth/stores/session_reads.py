"""A session and one factor state of its principal (the end-all watermark), read together
where the store can: the SQL store reads both in one statement (a join), so that every
signed-in request costs one read of the database for its session instead of two; any other
store is read getter by getter, so a third-party store needs nothing new."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from securebox_auth.policy.session import Session
from securebox_auth.stores.protocols import AuthStore, Versioned

__all__ = ["SessionReads", "read_session"]


@dataclass(frozen=True, slots=True)
class SessionReads:
    """The live session (``None``: unknown, ended or not an identifier) and, when there is
    one, its principal's factor state asked for (``None``: absent)."""

    session: Versioned[Session] | None
    state: Versioned[Mapping[str, object]] | None


def read_session(store: AuthStore, session_id: str, *, kind: str, item: str) -> SessionReads:
    """The :class:`SessionReads` of ``session_id`` with its principal's ``(kind, item)``
    factor state. A store may offer the same as a method ``read_session(session_id, *,
    kind, item)`` that reads them together (the SQL store: one statement); any other store
    is read one getter at a time. Both values are versioned as their getters return them."""
    together = getattr(store, "read_session", None)
    if together is not None:
        found: SessionReads = together(session_id, kind=kind, item=item)
        return found
    session = store.get_session(session_id)
    if session is None:
        return SessionReads(None, None)
    return SessionReads(session, store.get_factor_state(session.value.principal, kind, item))
