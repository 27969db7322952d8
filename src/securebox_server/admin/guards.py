"""What the administration pages share: the library's verdict on the actor, and the
subscription they administer."""

from __future__ import annotations

from fastapi import Request

from securebox_auth.entitlements.model import Operation, Subscription
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import NotPermitted
from securebox_auth.identity import Principal
from securebox_server.web.context import server_of

__all__ = ["allowed", "require", "subscription_of"]


def allowed(request: Request, actor: Principal, action: Operation) -> bool:
    """May ``actor`` do ``action`` on their own subscription (the library's rule)?"""
    reads = server_of(request).box.entitlements
    return bool(reads.check(actor, action, SubscriptionRef(actor.client_id)))


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
