"""Accounts: a user of a subscription, with a role and a status.

The rest of the entitlement model (companies, themes, invitations, rights, who may manage
whom) is in :mod:`.model`; this module holds what authentication itself needs: whether the
account exists, its role, and whether it is active.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from securebox_auth.identity import Principal

__all__ = ["Account", "AccountStatus", "Operator", "Role"]


class Role(enum.StrEnum):
    """Roles inside a subscription (see ``docs/identity.md``)."""

    PRINCIPAL_USER = "principal_user"
    ADMINISTRATOR = "administrator"
    ACCESS_MANAGER = "access_manager"
    USER = "user"
    THIRD_PARTY = "third_party"


class AccountStatus(enum.Enum):
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Account:
    principal: Principal
    role: Role
    created_at: datetime
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def active(self) -> bool:
        return self.status is AccountStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Operator:
    """A member of the bank's back office acting through an internal tool (not a portal
    user). Identified for the audit trail only; the deployment authenticates operators."""

    name: str

    @property
    def key(self) -> str:
        return f"operator:{self.name}"
