"""Who is told of a document, as a pure function: the users entitled to view it at
publication time, by the library's own entitlement rules (:func:`~securebox_auth.
entitlements.check.check`): the subscription's users within their rights, and third
parties only through an accepted invitation covering it; plus the company's notification
address when it has one. The jobs worker checks each user again at sending time.

A receiver's service account (a library account that :mod:`securebox_server.clients.
accounts` opened for an API client: it reads through the event feed and has no mailbox) is
never told: the caller names these ``machines`` (the principals of ``api_clients``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import InvitationStatus, Operation, Subscription
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.identity import Principal

__all__ = ["Recipients", "invitees", "recipients"]


@dataclass(frozen=True, slots=True)
class Recipients:
    users: tuple[Principal, ...]
    #: the company's notification address receives it too
    company_address: bool


def invitees(subscription: Subscription, now: datetime) -> tuple[Principal, ...]:
    """The third parties whose invitation to ``subscription`` is accepted now (their
    accounts are read to decide on them)."""
    found = {
        inv.invitee
        for inv in subscription.invitations.values()
        if inv.status_at(now) is InvitationStatus.ACCEPTED
    }
    return tuple(sorted(found, key=lambda p: p.key))


def recipients(
    doc: DocumentRef,
    subscription: Subscription,
    accounts: Iterable[Account],
    *,
    has_company_address: bool,
    now: datetime,
    machines: Collection[Principal] = frozenset(),
) -> Recipients:
    """The users among ``accounts`` (the subscription's own and its invitees') allowed to
    view ``doc`` now, in principal order, each once; never one of ``machines``."""
    entitled = {
        account.principal
        for account in accounts
        if account.principal not in machines
        and check(account, Operation.VIEW, doc, subscription, now).allowed
    }
    return Recipients(tuple(sorted(entitled, key=lambda p: p.key)), has_company_address)
