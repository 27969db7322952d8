"""A receiver's library account: "rights like a user's" (issue 15).

A receiver (a company's service account) is an account of its subscription, role
``user``, with rights on the chosen companies only: all their documents (``total``), the
operations ``view`` and ``download``. So every visibility decision about it is the
library's (:meth:`~securebox_auth.shell.entitlement_reads.EntitlementReads.visible` and
``check``), exactly as for a person: a portal administrator sees it among the users and may
narrow or remove its rights there; disabling the account stops what it sees at once.

The account has **no** confidential code (no ``PutCode``): nobody can log in to the portal
with it. Its user number is chosen by the back office (``--user-number``) or is the highest
free one of the subscription's format counting down from ``9999``. Made by the bank's back
office (an :class:`~securebox_auth.entitlements.accounts.Operator`), like
``ConfidentialCodeService.create_account``; the changes and the audit event are one
compare-and-swap commit of the library's store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
)
from securebox_auth.errors import AccountExists, MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.stores.protocols import AuthStore, Change, PutAccount, PutSubscription

__all__ = ["RECEIVER_OPERATIONS", "close_service_account", "open_service_account", "rights_of"]

RECEIVER_OPERATIONS: Final = frozenset({Operation.VIEW, Operation.DOWNLOAD})
_TOP: Final = 9999


def rights_of(companies: Sequence[Siren]) -> Rights:
    """A receiver's rights: every document of ``companies``, read and download."""
    return Rights(CompanyScope.of(*companies), DocumentScope.all(), RECEIVER_OPERATIONS)


def _free_number(store: AuthStore, client_id: ClientId) -> UserNumber:
    taken = {a.principal.user_number.value for a in store.accounts_of(client_id)}
    for n in range(_TOP, 0, -1):
        if str(n) not in taken:
            return UserNumber(str(n))
    raise AccountExists("no free user number in this subscription")  # pragma: no cover


def open_service_account(
    store: AuthStore,
    operator: Operator,
    client_id: ClientId,
    companies: Sequence[Siren],
    now: datetime,
    *,
    user_number: UserNumber | None = None,
    name: str,
) -> Principal:
    """Create the receiver's account with :func:`rights_of` ``companies`` (each must be a
    company of the subscription); its principal."""
    found = store.get_subscription(client_id)
    if found is None:
        raise MalformedInput("no such subscription")
    missing = [c.value for c in companies if c not in found.value.companies]
    if not companies or missing:
        raise MalformedInput("name one or more companies of the subscription")
    principal = Principal(client_id, user_number or _free_number(store, client_id))
    if store.get_account(principal) is not None:
        raise AccountExists("an account with this client identifier and user number exists")
    rights = rights_of(companies)
    changes: list[Change] = [
        PutAccount(principal, 0, Account(principal, Role.USER, now)),
        PutSubscription(client_id, found.version, found.value.with_rights(principal, rights)),
    ]
    event = AuditEvent.make(
        now,
        "account.create",
        actor=operator.key,
        subject=principal.key,
        outcome="success",
        details={
            "role": Role.USER.value,
            "service_account": name,
            "companies": ",".join(sorted(c.value for c in companies)),
        },
    )
    store.commit(changes, [event])
    return principal


def close_service_account(
    store: AuthStore, operator: Operator, principal: Principal, now: datetime
) -> None:
    """Disable the receiver's account and drop its rights (one commit)."""
    account = store.get_account(principal)
    sub = store.get_subscription(principal.client_id)
    changes: list[Change] = []
    if account is not None and account.value.active:
        disabled = dataclasses.replace(account.value, status=AccountStatus.DISABLED)
        changes.append(PutAccount(principal, account.version, disabled))
    if sub is not None and principal in sub.value.rights:
        changes.append(
            PutSubscription(principal.client_id, sub.version, sub.value.without_user(principal))
        )
    if changes:
        event = AuditEvent.make(
            now, "user.remove", actor=operator.key, subject=principal.key, outcome="success"
        )
        store.commit(changes, [event])
