"""What the administration pages share: the library's verdict on the actor, the
subscription they administer, and the companies they see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from securebox_auth.entitlements.check import check, effective_rights
from securebox_auth.entitlements.model import Company, Operation, Subscription
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import NotPermitted
from securebox_auth.identity import Principal
from securebox_auth.stores.protocols import Standing
from securebox_server.web.context import server_of

__all__ = [
    "Portfolio",
    "administration_links",
    "allowed",
    "portfolio_of",
    "require",
    "subscription_of",
]


def allowed(request: Request, actor: Principal, action: Operation) -> bool:
    """May ``actor`` do ``action`` on their own subscription (the library's rule)?"""
    reads = server_of(request).box.entitlements
    return bool(reads.check(actor, action, SubscriptionRef(actor.client_id)))


def administration_links(
    standing: Standing, actor: Principal, now: datetime
) -> dict[str, bool] | None:
    """The home page's links to the account's administration, each shown when the library
    opens its page to ``actor`` (:func:`allowed`'s rule), decided on a standing the page
    already read (no read of its own); ``None``: no administration at all."""
    account, subscription = standing.account, standing.subscription
    if account is None or subscription is None:
        return None
    own = SubscriptionRef(actor.client_id)

    def may(action: Operation) -> bool:
        return bool(check(account.value, action, own, subscription.value, now))

    if not may(Operation.LIST_USERS):
        return None
    return {"third_parties": may(Operation.MANAGE_USERS), "paper": may(Operation.SWITCH_TO_PAPER)}


def require(request: Request, actor: Principal, action: Operation) -> Subscription:
    """The actor's subscription when the library allows ``action`` on it, else
    :class:`NotPermitted` (403)."""
    if not allowed(request, actor, action):
        raise NotPermitted("this administration is not open to this user")
    return subscription_of(request, actor)


def subscription_of(request: Request, actor: Principal) -> Subscription:
    found = server_of(request).box.store.get_subscription(actor.client_id)
    if found is None:
        raise NotPermitted("this administration is not open to this user")
    return found.value


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The companies a user of the subscription sees on the companies' pages, by name then
    SIREN; ``manage``: they may also add and remove companies (and see each sheet in
    full)."""

    subscription: Subscription
    companies: tuple[Company, ...]
    manage: bool


def portfolio_of(request: Request, actor: Principal) -> Portfolio:
    """Every company for those the library lets ``manage_companies`` (administrators);
    for any other user of the subscription, the companies their rights cover (the insurer's
    guide: a collaborator reaches the companies' pages with the SIRENs assigned to them,
    and adds or removes none). Others: :class:`NotPermitted`."""
    sub = require(request, actor, Operation.LIST_USERS)
    manage = allowed(request, actor, Operation.MANAGE_COMPANIES)
    companies = sorted(sub.companies.values(), key=lambda c: (c.name, c.siren.value))
    if not manage:
        box = server_of(request).box
        account = box.store.get_account(actor)
        if account is None:
            raise NotPermitted("this administration is not open to this user")
        rights, _ = effective_rights(account.value, sub, box.clock.now())
        companies = [c for c in companies if rights.companies.covers(c.siren)]
    return Portfolio(sub, tuple(companies), manage)
