"""The entitlement model, as frozen values.

A **subscription** (client identifier) has a portfolio of **companies** (SIREN), document
**themes**, the **rights** of each of its users, and **invitations** of third parties (users
of another subscription, such as an accountant). Roles are on the accounts
(:class:`~securebox_auth.entitlements.accounts.Role`); rights say what a role may actually reach.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypeVar

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren

__all__ = [
    "ADMIN_OPERATIONS",
    "DOCUMENT_OPERATIONS",
    "GRANTABLE_OPERATIONS",
    "NEEDS_VIEW",
    "THIRD_PARTY_OPERATIONS",
    "Company",
    "CompanyScope",
    "DocumentScope",
    "Invitation",
    "InvitationStatus",
    "Operation",
    "Rights",
    "Subscription",
    "Theme",
]

_THEME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class Operation(enum.StrEnum):
    """What a user may do. Document operations apply to documents; banking operations to a
    company's accounts; administrative operations to the subscription.

    A ``StrEnum``: its members hash as their text, which keeps set lookups in checks fast.
    """

    VIEW = "view"
    DOWNLOAD = "download"
    SHARE = "share"
    MANAGE_USERS = "manage_users"
    MANAGE_RIGHTS = "manage_rights"
    MANAGE_COMPANIES = "manage_companies"
    MANAGE_PAYEES = "manage_payees"
    ORDER_CHEQUE_BOOKS = "order_cheque_books"
    TRANSFER = "transfer"
    SIGN_BATCHES = "sign_batches"
    # Not grantable: they follow from the role alone.
    LIST_USERS = "list_users"
    EDIT_OWN_ACCOUNT = "edit_own_account"
    SWITCH_TO_PAPER = "switch_to_paper"


DOCUMENT_OPERATIONS = frozenset({Operation.VIEW, Operation.DOWNLOAD, Operation.SHARE})
ADMIN_OPERATIONS = frozenset(
    {Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS, Operation.MANAGE_COMPANIES}
)
BANKING_OPERATIONS = frozenset(
    {
        Operation.MANAGE_PAYEES,
        Operation.ORDER_CHEQUE_BOOKS,
        Operation.TRANSFER,
        Operation.SIGN_BATCHES,
    }
)
GRANTABLE_OPERATIONS = DOCUMENT_OPERATIONS | ADMIN_OPERATIONS | BANKING_OPERATIONS
#: Document operations that act on a document one may view: held only with view (a right to
#: download or share what one may not view would open bodies no list shows).
NEEDS_VIEW = frozenset({Operation.DOWNLOAD, Operation.SHARE})
#: A third party (accountant, payroll declarant) reads and downloads documents, nothing more.
THIRD_PARTY_OPERATIONS = frozenset({Operation.VIEW, Operation.DOWNLOAD})


@dataclass(frozen=True, slots=True, order=True)
class Theme:
    """A document category (``payroll``, ``statements``, ``tax``...)."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _THEME.fullmatch(self.name):
            raise MalformedInput("a theme is 1-40 of a-z 0-9 _ - starting with a letter or digit")

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Theme and other.name == self.name  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name


def valid_document_id(value: object) -> str:
    if not isinstance(value, str) or not _DOC_ID.fullmatch(value):
        raise MalformedInput("a document id is 1-64 of A-Z a-z 0-9 _ . : -")
    return value


@dataclass(frozen=True, slots=True)
class CompanyScope:
    """Which companies: the whole portfolio (``everything=True``, which also covers companies
    added later) or the chosen ones."""

    everything: bool = False
    chosen: frozenset[Siren] = frozenset()

    def __post_init__(self) -> None:
        if self.everything and self.chosen:
            raise MalformedInput("a company scope is the whole portfolio or chosen companies")

    @classmethod
    def portfolio(cls) -> CompanyScope:
        return cls(everything=True)

    @classmethod
    def of(cls, *companies: Siren) -> CompanyScope:
        return cls(chosen=frozenset(companies))

    def covers(self, company: Siren) -> bool:
        return self.everything or company in self.chosen

    def within(self, other: CompanyScope) -> bool:
        """Is every company reachable here also reachable in ``other``?"""
        return other.everything or (not self.everything and self.chosen <= other.chosen)


@dataclass(frozen=True, slots=True)
class DocumentScope:
    """Which documents: all of them (total access), or a partial access limited to chosen
    themes and chosen documents."""

    total: bool = False
    themes: frozenset[Theme] = frozenset()
    documents: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.total and (self.themes or self.documents):
            raise MalformedInput("a document scope is total or partial, not both")
        for doc in self.documents:
            valid_document_id(doc)

    @classmethod
    def all(cls) -> DocumentScope:
        return cls(total=True)

    def covers(self, theme: Theme, document_id: str) -> bool:
        return self.total or theme in self.themes or document_id in self.documents

    def within(self, other: DocumentScope) -> bool:
        if other.total:
            return True
        if self.total:
            return False
        return self.themes <= other.themes and self.documents <= (other.documents)


@dataclass(frozen=True, slots=True)
class Rights:
    """What one user may reach inside one subscription."""

    companies: CompanyScope = CompanyScope()
    documents: DocumentScope = DocumentScope()
    operations: frozenset[Operation] = frozenset()

    def __post_init__(self) -> None:
        extra = self.operations - GRANTABLE_OPERATIONS
        if extra:
            names = ", ".join(sorted(op.value for op in extra))
            raise MalformedInput(f"these operations follow from roles and are not granted: {names}")

    @classmethod
    def everything(cls) -> Rights:
        return cls(CompanyScope.portfolio(), DocumentScope.all(), GRANTABLE_OPERATIONS)

    def holds(self, action: Operation) -> bool:
        """Is ``action`` among these operations, with view when it needs it
        (:data:`NEEDS_VIEW`)?"""
        return action in self.operations and (
            action not in NEEDS_VIEW or Operation.VIEW in self.operations
        )

    def within(self, other: Rights) -> bool:
        """Is this a subset of ``other`` (no right that ``other`` lacks)?"""
        return (
            self.companies.within(other.companies)
            and self.documents.within(other.documents)
            and self.operations <= other.operations
        )


NO_RIGHTS: Final = Rights()


@dataclass(frozen=True, slots=True)
class Company:
    siren: Siren
    name: str
    added_at: datetime


class InvitationStatus(enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Invitation:
    """A third party invited on some companies of a subscription. It grants nothing until
    accepted, and nothing after it is revoked or declined. A pending invitation expires at
    ``expires_at``; an accepted one stays until revoked."""

    id: str
    invitee: Principal
    companies: frozenset[Siren]
    documents: DocumentScope
    operations: frozenset[Operation]
    invited_by: Principal
    created_at: datetime
    expires_at: datetime
    status: InvitationStatus = InvitationStatus.PENDING
    decided_at: datetime | None = None
    _rights: Rights = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.companies:
            raise MalformedInput("an invitation names at least one company")
        if not self.operations or not self.operations <= THIRD_PARTY_OPERATIONS:
            raise MalformedInput("a third party may be given view and download only")
        rights = Rights(CompanyScope(chosen=self.companies), self.documents, self.operations)
        object.__setattr__(self, "_rights", rights)

    def status_at(self, now: datetime) -> InvitationStatus:
        if self.status is InvitationStatus.PENDING and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return self.status

    def rights(self) -> Rights:
        return self._rights


def _drop_company(invitation: Invitation, siren: Siren) -> Invitation:
    if siren not in invitation.companies:
        return invitation
    if invitation.companies == {siren}:
        return replace(invitation, status=InvitationStatus.REVOKED)
    return replace(invitation, companies=invitation.companies - {siren})


K = TypeVar("K")
V = TypeVar("V")


def _frozen_map(items: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Subscription:
    """The entitlement state of one subscription: one aggregate, changed atomically."""

    client_id: ClientId
    companies: Mapping[Siren, Company] = field(default_factory=dict)
    themes: frozenset[Theme] = frozenset()
    rights: Mapping[Principal, Rights] = field(default_factory=dict)
    invitations: Mapping[str, Invitation] = field(default_factory=dict)
    #: True once the subscription opted in to receive documents digitally.
    digital: bool = True
    #: The invitations of each invitee (a check of a third party reads only theirs).
    _by_invitee: Mapping[Principal, tuple[Invitation, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "companies", _frozen_map(self.companies))
        object.__setattr__(self, "rights", _frozen_map(self.rights))
        object.__setattr__(self, "invitations", _frozen_map(self.invitations))
        by_invitee: dict[Principal, tuple[Invitation, ...]] = {}
        for inv in self.invitations.values():
            by_invitee[inv.invitee] = (*by_invitee.get(inv.invitee, ()), inv)
        object.__setattr__(self, "_by_invitee", by_invitee)
        for principal in self.rights:
            if principal.client_id != self.client_id:
                raise MalformedInput("rights inside a subscription are for its own users")

    def rights_of(self, principal: Principal) -> Rights:
        return self.rights.get(principal, NO_RIGHTS)

    def with_rights(self, principal: Principal, rights: Rights) -> Subscription:
        updated = dict(self.rights)
        updated[principal] = rights
        return replace(self, rights=updated)

    def without_user(self, principal: Principal) -> Subscription:
        updated = dict(self.rights)
        updated.pop(principal, None)
        return replace(self, rights=updated)

    def with_company(self, company: Company) -> Subscription:
        updated = dict(self.companies)
        updated[company.siren] = company
        return replace(self, companies=updated)

    def without_company(self, siren: Siren) -> Subscription:
        companies = dict(self.companies)
        companies.pop(siren, None)
        # Chosen-company rights and invitations lose the company too: no dangling grant
        # that would come back if the company were added again.
        rights = {
            p: replace(r, companies=CompanyScope(chosen=r.companies.chosen - {siren}))
            if not r.companies.everything
            else r
            for p, r in self.rights.items()
        }
        invitations = {i: _drop_company(inv, siren) for i, inv in self.invitations.items()}
        return replace(self, companies=companies, rights=rights, invitations=invitations)

    def with_invitation(self, invitation: Invitation) -> Subscription:
        updated = dict(self.invitations)
        updated[invitation.id] = invitation
        return replace(self, invitations=updated)

    def active_invitations(self, invitee: Principal, now: datetime) -> tuple[Invitation, ...]:
        return tuple(
            inv
            for inv in self._by_invitee.get(invitee, ())
            if inv.status_at(now) is InvitationStatus.ACCEPTED
        )
