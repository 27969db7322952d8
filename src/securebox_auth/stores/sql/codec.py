"""Rows and JSON documents to and from the core's value types.

Each ``*_row`` function turns a value into the column values of its table (without the key
and ``version``); each ``*_from_row`` does the reverse. The JSON documents (a subscription's
entitlements, a session's proofs and grants, a code's history, audit details) are written
with sorted keys and sorted collections, carry a format number ``"v"`` where they are
documents of their own, and are read back into values equal to the ones written.
Datetimes come back as aware UTC datetimes (equal instants compare equal). Rows may come
from SQLAlchemy or straight from the driver: :func:`~.rows.required_instant` and ``bool()``
accept both.
The shared helpers are in :mod:`.rows`, the subscription codec in :mod:`.subscription_codec`
(re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from securebox_auth.audit import AuditChainBroken, AuditEvent, SealedEvent
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session import Grant, Proof, Session
from securebox_auth.stores.factor_changes import decode_factor_state, encode_factor_state
from securebox_auth.stores.lockout_codec import elements_document, elements_from_document
from securebox_auth.stores.sql.rows import (
    Row,
    dumps,
    from_iso,
    iso,
    loads,
    principal_key,
    principal_of,
    required_instant,
)
from securebox_auth.stores.sql.sqltypes import instant
from securebox_auth.stores.sql.subscription_codec import (
    SUBSCRIPTION_FORMAT,
    company_rows,
    invitation_rows,
    subscription_from_row,
    subscription_row,
)

__all__ = [
    "SUBSCRIPTION_FORMAT",
    "account_from_row",
    "account_row",
    "code_from_row",
    "code_row",
    "company_rows",
    "dumps",
    "event_from_row",
    "event_row",
    "factor_state_from_row",
    "factor_state_row",
    "invitation_rows",
    "lockout_from_row",
    "lockout_row",
    "principal_key",
    "session_from_row",
    "session_row",
    "subscription_from_row",
    "subscription_row",
]


SESSION_FORMAT: Final = 1


# -- accounts, codes, lockouts ---------------------------------------------------------------


def account_row(account: Account) -> dict[str, Any]:
    return {
        "role": account.role.value,
        "status": account.status.value,
        "created_at": account.created_at,
    }


def account_from_row(row: Row) -> Account:
    return Account(
        principal=principal_of(row),
        role=Role(row["role"]),
        created_at=required_instant(row["created_at"]),
        status=AccountStatus(row["status"]),
    )


def code_row(credential: CodeCredential) -> dict[str, Any]:
    return {
        "hash": credential.hash,
        "set_at": credential.set_at,
        "must_change": credential.must_change,
        "expires_at": credential.expires_at,
        "history": dumps(list(credential.history)),
    }


def code_from_row(row: Row) -> CodeCredential:
    history = loads(row["history"], "code history")
    return CodeCredential(
        hash=row["hash"],
        set_at=required_instant(row["set_at"]),
        must_change=bool(row["must_change"]),
        expires_at=instant(row["expires_at"]),
        history=tuple(str(h) for h in history),
    )


def lockout_row(state: LockoutState) -> dict[str, Any]:
    return {
        "failures": state.failures,
        "temporary_blocks": state.temporary_blocks,
        "blocked_until": state.blocked_until,
        "permanent": state.permanent,
        "last_failure_at": state.last_failure_at,
        "series_started_at": None,  # unused since ADR 0008
        "elements": dumps(elements_document(state.elements)),
    }


def lockout_from_row(row: Row) -> LockoutState:
    """A lockout row; one written before ADR 0008 (``elements`` NULL) gets the conservative
    per-element series of :func:`~securebox_auth.stores.lockout_codec.elements_from_document`."""
    failures, blocks = int(row["failures"]), int(row["temporary_blocks"])
    last = instant(row["last_failure_at"])
    text = row.get("elements")
    document = None if text is None else loads(text, "lockout series")
    return LockoutState(
        failures=failures,
        temporary_blocks=blocks,
        blocked_until=instant(row["blocked_until"]),
        permanent=bool(row["permanent"]),
        last_failure_at=last,
        elements=elements_from_document(
            document, failures=failures, temporary_blocks=blocks, last_failure_at=last
        ),
    )


# -- sessions ----------------------------------------------------------------------------------


def _grant(grant: Grant) -> dict[str, Any]:
    return {
        "operation": grant.operation,
        "principal": grant.principal.key,
        "digest": grant.digest,
        "issued_at": iso(grant.issued_at),
        "expires_at": iso(grant.expires_at),
        "methods": list(grant.methods),
        "single_use": grant.single_use,
        **({"id": grant.id} if grant.id else {}),
    }


def _grant_from(doc: Mapping[str, Any]) -> Grant:
    return Grant(
        operation=str(doc["operation"]),
        principal=Principal.from_key(doc["principal"]),
        digest=None if doc["digest"] is None else str(doc["digest"]),
        issued_at=from_iso(doc["issued_at"]),
        expires_at=from_iso(doc["expires_at"]),
        methods=tuple(str(m) for m in doc["methods"]),
        single_use=bool(doc["single_use"]),
        id=str(doc.get("id", "")),
    )


def session_row(session: Session | None) -> dict[str, Any]:
    """Columns of a session; ``None`` (an ended session) keeps only the tombstone."""
    if session is None:
        return {"ended": True, "state": dumps({"v": SESSION_FORMAT, "proofs": [], "grants": []})}
    state = {
        "v": SESSION_FORMAT,
        "proofs": [[p.method, iso(p.at)] for p in session.proofs],
        "grants": [_grant(g) for g in session.grants],
    }
    return {
        **principal_key(session.principal),
        "channel": session.channel,
        "auth_time": session.auth_time,
        "last_activity": session.last_activity,
        "ended": False,
        "state": dumps(state),
    }


def session_from_row(row: Row) -> Session | None:
    if row["ended"]:
        return None
    state = loads(row["state"], "session")
    if state.get("v") != SESSION_FORMAT:
        raise MalformedInput(f"unknown session format {state.get('v')!r}")
    return Session(
        principal=principal_of(row),
        channel=str(row["channel"]),
        auth_time=required_instant(row["auth_time"]),
        last_activity=required_instant(row["last_activity"]),
        proofs=tuple(Proof(str(m), from_iso(at)) for m, at in state["proofs"]),
        grants=tuple(_grant_from(g) for g in state["grants"]),
    )


# -- factor states -----------------------------------------------------------------------------


def factor_state_row(state: Mapping[str, object] | None) -> dict[str, Any]:
    """The value column of a factor state; ``None`` (deleted) leaves a tombstone."""
    return {"state": None if state is None else encode_factor_state(state)}


def factor_state_from_row(row: Row) -> dict[str, object] | None:
    text = row["state"]
    return None if text is None else decode_factor_state(str(text))


# -- audit events ------------------------------------------------------------------------------


def event_row(sealed: SealedEvent) -> dict[str, Any]:
    event = sealed.event
    return {
        "chain": sealed.chain,
        "sequence": sealed.sequence,
        "at": event.at,
        # Exactly the text the MAC covers (AuditEvent.canonical), offset included.
        "at_text": event.at.isoformat(timespec="microseconds"),
        "action": event.action,
        "actor": event.actor,
        "subject": event.subject,
        "outcome": event.outcome,
        "details": dumps([list(pair) for pair in event.details]),
        "previous": sealed.previous,
        "mac": sealed.mac,
        "key_id": sealed.key_id,
    }


def event_from_row(row: Row) -> SealedEvent:
    """The sealed event of a row. Every column is bound to the MAC: the MAC covers the
    sequence, the link, ``at_text``, the event's texts and the key id, and the other
    columns must be exactly what sealing wrote from them (the indexed ``at`` is the instant
    of ``at_text``; ``at_text`` and ``details`` are in canonical form). A row where they
    disagree raises
    :class:`~securebox_auth.audit.AuditChainBroken`: editing the indexed time alone (which
    queries and retention use) is tampering too."""
    sequence = int(row["sequence"])
    try:
        details = loads(row["details"], "audit details")
        at = datetime.fromisoformat(row["at_text"])
        pairs = tuple((str(k), str(v)) for k, v in details)
        event = AuditEvent(
            at=at,
            action=row["action"],
            actor=row["actor"],
            subject=row["subject"],
            outcome=row["outcome"],
            details=pairs,
        )
    except (TypeError, ValueError):
        raise AuditChainBroken(sequence, "the stored event cannot be read") from None
    if required_instant(row["at"]) != event.at or row["at_text"] != event.at.isoformat(
        timespec="microseconds"
    ):
        raise AuditChainBroken(sequence, "the indexed time differs from the sealed time")
    if row["details"] != dumps([list(pair) for pair in pairs]):
        raise AuditChainBroken(sequence, "the stored details are not the sealed text")
    chain, key_id = str(row["chain"]), str(row["key_id"])
    return SealedEvent(sequence, event, row["previous"], row["mac"], chain, key_id)
