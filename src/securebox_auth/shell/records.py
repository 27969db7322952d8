"""Where the entry point keeps flows and the end-all watermark: factor-state records.

A flow is a factor-state record of its principal (kind ``login_flow`` or ``step_up_flow``,
item the flow id): every step is a compare-and-swap on it, a finished or expired flow
becomes a tombstone (its id can never be stored again, so a finished flow cannot be
replayed). A flow's **handle**, what the portal keeps between two requests, names the kind,
the principal and the id: ``L:<client>:<user>:<id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import FlowExpired, MalformedInput
from securebox_auth.flows.codec import LOGIN_FLOW, STEP_UP_FLOW
from securebox_auth.identity import Principal
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    EndSession,
    PutFactorState,
    Versioned,
)

__all__ = [
    "SESSIONS",
    "WATERMARK",
    "end_every_session",
    "end_other_sessions",
    "flow_ref",
    "handle",
    "load",
    "parse_handle",
    "put",
    "sessions_not_before",
    "watermark_of",
]

#: Kind of the per-principal record of :meth:`Securebox.end_all` (item ``not_before``).
SESSIONS: Final = "sessions"
#: The ``(kind, item)`` of that record, for a caller that reads it with others.
WATERMARK: Final = (SESSIONS, "not_before")
_KINDS: Final = {"L": LOGIN_FLOW, "S": STEP_UP_FLOW}
_PREFIX: Final = {LOGIN_FLOW: "L", STEP_UP_FLOW: "S"}


def handle(kind: str, principal: Principal, flow_id: str) -> str:
    return f"{_PREFIX[kind]}:{principal.client_id.value}:{principal.user_number.value}:{flow_id}"


def parse_handle(
    text: object, kind: str, parse: Callable[[str, str], Principal]
) -> tuple[Principal, str]:
    """The principal and flow id of a handle of ``kind``; anything else is unknown."""
    if not isinstance(text, str) or len(text) > 256:
        raise FlowExpired("no such flow: start again")
    parts = text.split(":")
    if len(parts) != 4 or _KINDS.get(parts[0]) != kind or not parts[3]:
        raise FlowExpired("no such flow: start again")
    try:
        principal = parse(parts[1], parts[2])
    except MalformedInput:
        raise FlowExpired("no such flow: start again") from None
    return principal, parts[3]


def flow_ref(flow_id: str) -> str:
    """A non-secret reference for audit records."""
    return session_key(flow_id)[:16]


def load(
    store: AuthStore, principal: Principal, kind: str, flow_id: str
) -> Versioned[Mapping[str, object]]:
    found = store.get_factor_state(principal, kind, flow_id)
    if found is None:
        raise FlowExpired("no such flow (finished, expired or unknown): start again")
    return found


def put(
    principal: Principal,
    kind: str,
    flow_id: str,
    version: int,
    document: Mapping[str, object] | None,
) -> PutFactorState:
    return PutFactorState(principal, kind, flow_id, version, document)


def sessions_not_before(store: AuthStore, principal: Principal) -> datetime | None:
    """When every session of ``principal`` was last ended (``None``: never)."""
    return watermark_of(store.get_factor_state(principal, SESSIONS, "not_before"))


def watermark_of(found: Versioned[Mapping[str, object]] | None) -> datetime | None:
    """The instant of the stored ``not_before`` record (``None`` when absent). A record
    without a readable instant is :class:`~securebox_auth.errors.MalformedInput`: every
    session, login and assertion of its principal is then refused (failing closed), never
    taken as "never ended"."""
    if found is None:
        return None
    at = found.value.get("at")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise MalformedInput("a stored end-all watermark has no readable instant")
    return moment


def end_every_session(
    store: AuthStore, principal: Principal, now: datetime, *, reason: str
) -> tuple[list[Change], AuditEvent]:
    """What ends every session of ``principal`` at ``now``, for the caller's own commit:
    each live session ended by compare-and-swap on the version read, the ``not_before``
    watermark (a login being opened meanwhile is refused too), and the ``session.end_all``
    event (``reason``: ``recovery``, ``user_removed``...)."""
    live = store.sessions_of(principal)
    found = store.get_factor_state(principal, SESSIONS, "not_before")
    watermark = PutFactorState(
        principal, SESSIONS, "not_before", 0 if found is None else found.version,
        {"at": now.isoformat()},
    )  # fmt: skip
    ended: list[Change] = [EndSession(key, stored.version) for key, stored in live]
    who = principal.key
    event = AuditEvent.make(
        now, "session.end_all", actor=who, subject=who, outcome="success",
        details={"count": str(len(live)), "reason": reason},
    )  # fmt: skip
    return [*ended, watermark], event


def end_other_sessions(
    store: AuthStore, principal: Principal, kept: str, now: datetime, *, reason: str
) -> tuple[list[Change], AuditEvent]:
    """What ends every live session of ``principal`` but the one ``kept`` (its identifier),
    for the caller's own commit: each by compare-and-swap on the version read, with one
    ``session.end_others`` event (``reason``: ``code_changed``...). No watermark: the kept
    session goes on."""
    keep = session_key(kept)
    live = [(key, stored) for key, stored in store.sessions_of(principal) if key != keep]
    who = principal.key
    event = AuditEvent.make(
        now, "session.end_others", actor=who, subject=who, outcome="success",
        details={"count": str(len(live)), "reason": reason},
    )  # fmt: skip
    return [EndSession(key, stored.version) for key, stored in live], event
