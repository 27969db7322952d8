"""A subscription (the entitlement aggregate) to and from its row: companies, themes,
rights and invitations as one JSON document with a format number, plus one row per
invitation for the lookup by invited principal. Re-exported by
:mod:`securebox_auth.stores.sql.codec`, which describes the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

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
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.stores.sql.rows import (
    Row,
    dumps,
    from_iso,
    iso,
    iso_or_none,
    loads,
)

__all__ = [
    "SUBSCRIPTION_FORMAT",
    "company_rows",
    "invitation_rows",
    "subscription_from_row",
    "subscription_row",
]

SUBSCRIPTION_FORMAT: Final = 1
#: Validated identifiers kept for re-use across decodes (they are immutable values): a large
#: subscription names the same companies, themes and principals hundreds of times, and
#: validating a SIREN (Luhn, through python-stdnum) dominated its decoding.
_INTERNED: Final = 65_536


@lru_cache(maxsize=_INTERNED)
def _siren(text: str) -> Siren:
    return Siren(text)


@lru_cache(maxsize=_INTERNED)
def _theme(text: str) -> Theme:
    return Theme(text)


@lru_cache(maxsize=_INTERNED)
def _principal(key: str) -> Principal:
    return Principal.from_key(key)


@lru_cache(maxsize=_INTERNED)
def _instant(text: str) -> datetime:
    return from_iso(text)


# -- subscriptions -----------------------------------------------------------------------------


def _company_scope(scope: CompanyScope) -> dict[str, Any]:
    return {"everything": scope.everything, "chosen": sorted(s.value for s in scope.chosen)}


def _company_scope_from(doc: Mapping[str, Any]) -> CompanyScope:
    return CompanyScope(
        everything=bool(doc["everything"]), chosen=frozenset(_siren(s) for s in doc["chosen"])
    )


def _document_scope(scope: DocumentScope) -> dict[str, Any]:
    return {
        "total": scope.total,
        "themes": sorted(t.name for t in scope.themes),
        "documents": sorted(scope.documents),
    }


def _document_scope_from(doc: Mapping[str, Any]) -> DocumentScope:
    documents = tuple(str(d) for d in doc["documents"])
    try:
        return _document_scope_of(bool(doc["total"]), tuple(doc["themes"]), documents)
    except TypeError:  # an unhashable theme: not a stored scope
        raise MalformedInput("the stored document scope is malformed") from None


@lru_cache(maxsize=_INTERNED)
def _document_scope_of(
    total: bool, themes: tuple[str, ...], documents: tuple[str, ...]
) -> DocumentScope:
    return DocumentScope(
        total=total, themes=frozenset(_theme(t) for t in themes), documents=frozenset(documents)
    )


def _operations(ops: frozenset[Operation]) -> list[str]:
    return sorted(op.value for op in ops)


def _operations_from(values: list[str]) -> frozenset[Operation]:
    try:
        return _operations_of(tuple(values))
    except TypeError:  # an unhashable value: not a stored operation
        raise MalformedInput("the stored operations are malformed") from None


@lru_cache(maxsize=_INTERNED)
def _operations_of(values: tuple[str, ...]) -> frozenset[Operation]:
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
        "created_at": iso(inv.created_at),
        "expires_at": iso(inv.expires_at),
        "status": inv.status.value,
        "decided_at": iso_or_none(inv.decided_at),
    }


def _invitation_from(doc: Mapping[str, Any]) -> Invitation:
    return Invitation(
        id=str(doc["id"]),
        invitee=_principal(doc["invitee"]),
        companies=frozenset(_siren(s) for s in doc["companies"]),
        documents=_document_scope_from(doc["documents"]),
        operations=_operations_from(doc["operations"]),
        invited_by=_principal(doc["invited_by"]),
        created_at=_instant(doc["created_at"]),
        expires_at=_instant(doc["expires_at"]),
        status=InvitationStatus(doc["status"]),
        decided_at=None if doc["decided_at"] is None else _instant(doc["decided_at"]),
    )


def subscription_row(sub: Subscription) -> dict[str, Any]:
    state = {
        "v": SUBSCRIPTION_FORMAT,
        "companies": [
            [c.siren.value, c.name, iso(c.added_at)]
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
    state = loads(row["state"], "subscription")
    if state.get("v") != SUBSCRIPTION_FORMAT:
        raise MalformedInput(f"unknown subscription format {state.get('v')!r}")
    companies = {}
    for siren, name, added_at in state["companies"]:
        company = Company(_siren(siren), str(name), _instant(added_at))
        companies[company.siren] = company
    return Subscription(
        client_id=ClientId(row["client_id"]),
        companies=companies,
        themes=frozenset(_theme(t) for t in state["themes"]),
        rights={_principal(k): _rights_from(r) for k, r in state["rights"]},
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


def company_rows(sub: Subscription) -> list[dict[str, str]]:
    """The ``subscription_companies`` rows that index ``sub``'s portfolio."""
    return [
        {"company": siren.value, "client_id": sub.client_id.value}
        for siren in sorted(sub.companies, key=lambda s: s.value)
    ]
