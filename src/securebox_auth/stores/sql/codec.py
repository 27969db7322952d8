"""Rows and JSON documents to and from the core's value types.

Each ``*_row`` function turns a value into the column values of its table (without the key
and ``version``); each ``*_from_row`` does the reverse. The JSON documents (a subscription's
entitlements, a session's proofs and grants, a code's history, audit details) are written
with sorted keys and sorted collections, carry a format number ``"v"`` where they are
documents of their own, and are read back into values equal to the ones written.
Datetimes come back as aware UTC datetimes (equal instants compare equal). Rows may come
from SQLAlchemy or straight from the driver: :func:`_at` and ``bool()`` accept both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from securebox_auth.accounts import Account, AccountStatus, Role
from securebox_auth.audit import AuditChainBroken, AuditEvent, SealedEvent
from securebox_auth.entitlements.model import (
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.lockout import LockoutState
from securebox_auth.policy.session import Grant, Proof, Session
from securebox_auth.stores.lockout_codec import elements_document, elements_from_document
from securebox_auth.stores.protocols import decode_factor_state, encode_factor_state
from securebox_auth.stores.sql.sqltypes import instant

__all__ = [
    "account_from_row",
    "account_row",
    "code_from_row",
    "code_row",
    "dumps",
    "event_from_row",
    "event_row",
    "factor_state_from_row",
    "factor_state_row",
    "lockout_from_row",
    "lockout_row",
    "principal_key",
    "session_from_row",
    "session_row",
    "subscription_from_row",
    "subscription_row",
]

SUBSCRIPTION_FORMAT: Final = 1
SESSION_FORMAT: Final = 1

Row = Mapping[Any, Any]  # a RowMapping, or a plain dict


def dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedInput(f"the stored {what} is not valid JSON") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else _iso(moment)


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _from_iso_or_none(text: str | None) -> datetime | None:
    return None if text is None else _from_iso(text)


def _at(value: object) -> datetime:
    moment = instant(value)
    if moment is None:
        raise MalformedInput("a required time is missing")
    return moment


def principal_key(principal: Principal) -> dict[str, str]:
    """The key columns of a per-principal row."""
    return {"client_id": principal.client_id.value, "user_number": principal.user_number.value}


def principal_of(row: Row) -> Principal:
    return Principal(ClientId(row["client_id"]), UserNumber(row["user_number"]))


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
        created_at=_at(row["created_at"]),
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
    history = _loads(row["history"], "code history")
    return CodeCredential(
        hash=row["hash"],
        set_at=_at(row["set_at"]),
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
    document = None if text is None else _loads(text, "lockout series")
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


# -- subscriptions -----------------------------------------------------------------------------


def _company_scope(scope: CompanyScope) -> dict[str, Any]:
    return {"everything": scope.everything, "chosen": sorted(s.value for s in scope.chosen)}


def _company_scope_from(doc: Mapping[str, Any]) -> CompanyScope:
    return CompanyScope(
        everything=bool(doc["everything"]), chosen=frozenset(Siren(s) for s in doc["chosen"])
    )


def _document_scope(scope: DocumentScope) -> dict[str, Any]:
    return {
        "total": scope.total,
        "themes": sorted(t.name for t in scope.themes),
        "documents": sorted(scope.documents),
    }


def _document_scope_from(doc: Mapping[str, Any]) -> DocumentScope:
    return DocumentScope(
        total=bool(doc["total"]),
        themes=frozenset(Theme(t) for t in doc["themes"]),
        documents=frozenset(str(d) for d in doc["documents"]),
    )


def _operations(ops: frozenset[Operation]) -> list[str]:
    return sorted(op.value for op in ops)


def _operations_from(values: list[str]) -> frozenset[Operation]:
    return frozenset(Operation(v) for v in values)


def _rights(rights: Rights) -> dict[str, Any]:
    return {
        "companies": _company_scope(rights.companies),
        "documents": _document_scope(rights.documents),
        "operations": _operations(rights.operations),
    }


def _rights_from(doc: Mapping[str, Any]) -> Rights:
    return Rights(
        _company_scope_from(doc["companies"]),
        _document_scope_from(doc["documents"]),
        _operations_from(doc["operations"]),
    )


def _invitation(inv: Invitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "invitee": inv.invitee.key,
        "companies": sorted(s.value for s in inv.companies),
        "documents": _document_scope(inv.documents),
        "operations": _operations(inv.operations),
        "invited_by": inv.invited_by.key,
        "created_at": _iso(inv.created_at),
        "expires_at": _iso(inv.expires_at),
        "status": inv.status.value,
        "decided_at": _iso_or_none(inv.decided_at),
    }


def _invitation_from(doc: Mapping[str, Any]) -> Invitation:
    return Invitation(
        id=str(doc["id"]),
        invitee=Principal.from_key(doc["invitee"]),
        companies=frozenset(Siren(s) for s in doc["companies"]),
        documents=_document_scope_from(doc["documents"]),
        operations=_operations_from(doc["operations"]),
        invited_by=Principal.from_key(doc["invited_by"]),
        created_at=_from_iso(doc["created_at"]),
        expires_at=_from_iso(doc["expires_at"]),
        status=InvitationStatus(doc["status"]),
        decided_at=_from_iso_or_none(doc["decided_at"]),
    )


def subscription_row(sub: Subscription) -> dict[str, Any]:
    state = {
        "v": SUBSCRIPTION_FORMAT,
        "companies": [
            [c.siren.value, c.name, _iso(c.added_at)]
            for c in sorted(sub.companies.values(), key=lambda c: c.siren.value)
        ],
        "themes": sorted(t.name for t in sub.themes),
        "rights": [
            [p.key, _rights(r)] for p, r in sorted(sub.rights.items(), key=lambda i: i[0].key)
        ],
        "invitations": [_invitation(sub.invitations[i]) for i in sorted(sub.invitations)],
    }
    return {"digital": sub.digital, "state": dumps(state)}


def subscription_from_row(row: Row) -> Subscription:
    state = _loads(row["state"], "subscription")
    if state.get("v") != SUBSCRIPTION_FORMAT:
        raise MalformedInput(f"unknown subscription format {state.get('v')!r}")
    companies = {}
    for siren, name, added_at in state["companies"]:
        company = Company(Siren(siren), str(name), _from_iso(added_at))
        companies[company.siren] = company
    return Subscription(
        client_id=ClientId(row["client_id"]),
        companies=companies,
        themes=frozenset(Theme(t) for t in state["themes"]),
        rights={Principal.from_key(k): _rights_from(r) for k, r in state["rights"]},
        invitations={str(d["id"]): _invitation_from(d) for d in state["invitations"]},
        digital=bool(row["digital"]),
    )


def invitation_rows(sub: Subscription) -> list[dict[str, str]]:
    """The ``subscription_invitations`` rows that index ``sub``'s invitations."""
    return [
        {
            "client_id": sub.client_id.value,
            "invitation_id": inv.id,
            "invitee_client_id": inv.invitee.client_id.value,
            "invitee_user_number": inv.invitee.user_number.value,
            "status": inv.status.value,
        }
        for inv in sub.invitations.values()
    ]


# -- sessions ----------------------------------------------------------------------------------


def _grant(grant: Grant) -> dict[str, Any]:
    return {
        "operation": grant.operation,
        "principal": grant.principal.key,
        "digest": grant.digest,
        "issued_at": _iso(grant.issued_at),
        "expires_at": _iso(grant.expires_at),
        "methods": list(grant.methods),
        "single_use": grant.single_use,
    }


def _grant_from(doc: Mapping[str, Any]) -> Grant:
    return Grant(
        operation=str(doc["operation"]),
        principal=Principal.from_key(doc["principal"]),
        digest=None if doc["digest"] is None else str(doc["digest"]),
        issued_at=_from_iso(doc["issued_at"]),
        expires_at=_from_iso(doc["expires_at"]),
        methods=tuple(str(m) for m in doc["methods"]),
        single_use=bool(doc["single_use"]),
    )


def session_row(session: Session | None) -> dict[str, Any]:
    """Columns of a session; ``None`` (an ended session) keeps only the tombstone."""
    if session is None:
        return {"ended": True, "state": dumps({"v": SESSION_FORMAT, "proofs": [], "grants": []})}
    state = {
        "v": SESSION_FORMAT,
        "proofs": [[p.method, _iso(p.at)] for p in session.proofs],
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
    state = _loads(row["state"], "session")
    if state.get("v") != SESSION_FORMAT:
        raise MalformedInput(f"unknown session format {state.get('v')!r}")
    return Session(
        principal=principal_of(row),
        channel=str(row["channel"]),
        auth_time=_at(row["auth_time"]),
        last_activity=_at(row["last_activity"]),
        proofs=tuple(Proof(str(m), _from_iso(at)) for m, at in state["proofs"]),
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
    }


def event_from_row(row: Row) -> SealedEvent:
    """The sealed event of a row. Every column is bound to the MAC: the MAC covers the
    sequence, the link, ``at_text`` and the event's texts, and the other columns must be
    exactly what sealing wrote from them (the indexed ``at`` is the instant of ``at_text``;
    ``at_text`` and ``details`` are in canonical form). A row where they disagree raises
    :class:`~securebox_auth.audit.AuditChainBroken`: editing the indexed time alone (which
    queries and retention use) is tampering too."""
    sequence = int(row["sequence"])
    try:
        details = _loads(row["details"], "audit details")
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
    if _at(row["at"]) != event.at or row["at_text"] != event.at.isoformat(timespec="microseconds"):
        raise AuditChainBroken(sequence, "the indexed time differs from the sealed time")
    if row["details"] != dumps([list(pair) for pair in pairs]):
        raise AuditChainBroken(sequence, "the stored details are not the sealed text")
    return SealedEvent(sequence, event, row["previous"], row["mac"])
