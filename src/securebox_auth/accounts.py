"""Accounts: a user of a subscription, with a role and a status.

Issue-level note: the full entitlement model (companies, themes, invitations, rights) lives
in :mod:`securebox_auth.entitlements`; this module holds what authentication itself needs:
whether the account exists and is active, and who may administer whose credentials.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from securebox_auth.identity import Principal

__all__ = ["Account", "AccountStatus", "Operator", "Role", "may_administer_credentials"]


class Role(enum.Enum):
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


def may_administer_credentials(actor: Account | Operator, target: Account) -> bool:
    """May ``actor`` regenerate the code of, or unblock, ``target``?

    * the bank's back office may, for anyone;
    * inside a subscription, the principal user and administrators may, for other users of
      the same subscription;
    * an administrator may not act on the principal user (it would let an administrator
      take over the account that appoints administrators);
    * nobody regenerates their own code this way (they change it, proving the current one).
    """
    if isinstance(actor, Operator):
        return True
    if not actor.active or actor.principal == target.principal:
        return False
    if actor.principal.client_id != target.principal.client_id:
        return False
    if actor.role is Role.PRINCIPAL_USER:
        return True
    return actor.role is Role.ADMINISTRATOR and target.role is not Role.PRINCIPAL_USER
