"""What an entitlement check is about: a document, a company, the subscription, a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securebox_auth.clock import require_aware
from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.model import Theme, valid_document_id
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren

__all__ = ["CompanyRef", "DocumentRef", "Resource", "SubscriptionRef", "UserRef"]


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document's catalogue entry: the facts entitlements are decided on (never its body)."""

    client_id: ClientId
    company: Siren
    theme: Theme
    document_id: str
    label: str
    issued_at: datetime

    def __post_init__(self) -> None:
        valid_document_id(self.document_id)
        if not isinstance(self.label, str) or len(self.label) > 200:
            raise MalformedInput("a document label is text of at most 200 characters")
        object.__setattr__(self, "issued_at", require_aware(self.issued_at, "issued_at"))


@dataclass(frozen=True, slots=True)
class CompanyRef:
    """A company of a subscription, for banking operations (payees, transfers...)."""

    client_id: ClientId
    company: Siren


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    client_id: ClientId


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user of a subscription, as the object of an administrative action."""

    principal: Principal
    role: Role

    @property
    def client_id(self) -> ClientId:
        return self.principal.client_id


Resource = DocumentRef | CompanyRef | SubscriptionRef | UserRef
