"""The reading side of the entitlement service: access decisions and visibility filters.

Both decide on the state read from the store at each call: the acting account, and the
subscriptions at their current versions (a SQL store answers those from its cache of decoded
subscriptions only after the database confirmed the version, ADR 0022). The visibility
filter, a pure function of the account and those subscriptions, is kept by
:class:`~securebox_auth.shell.filter_memo.FilterMemo` for the exact objects it was computed
from: a store returns the same subscription object while its version is unchanged, and a
new one after any change.
"""

from __future__ import annotations

from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.entitlements.check import AccessDecision, check, check_user
from securebox_auth.entitlements.model import Operation, Subscription
from securebox_auth.entitlements.resources import (
    CompanyRef,
    DocumentRef,
    SubscriptionRef,
    UserRef,
)
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.errors import MalformedInput, NotPermitted
from securebox_auth.identity import Principal
from securebox_auth.shell.entitlement_loop import EntitlementShell
from securebox_auth.stores.protocols import Standing

__all__ = ["EntitlementReads", "Target"]

#: What :meth:`EntitlementReads.check` decides on: a document, a company, the
#: subscription, or a user named by their principal (whose role the service reads).
Target = DocumentRef | CompanyRef | SubscriptionRef | Principal


class EntitlementReads(EntitlementShell):
    """Access decisions and visibility filters on the current stored state."""

    def _account(self, principal: Principal) -> Account:
        found = self.store.get_account(principal)
        if found is None or not found.value.active:
            raise NotPermitted("the acting user has no active account")
        return found.value

    def check(self, actor: Principal, action: Operation, resource: Target) -> AccessDecision:
        """Decide on the current state: a revoked right is refused at once.

        Everything is read from the store: the actor's role and rights, and, for an action
        on a user (named by their :class:`~securebox_auth.identity.Principal`), that user's
        role and rights. A :class:`~securebox_auth.entitlements.resources.UserRef`, whose
        role a caller could choose, is refused with :class:`MalformedInput`."""
        _target(resource)
        now = self.clock.now()
        standing = self.store.standing(actor, resource.client_id)
        found, sub = standing.account, standing.subscription
        if found is None or sub is None:
            nobody = Account(actor, Role.USER, now, status=AccountStatus.DISABLED)
            about = (
                SubscriptionRef(resource.client_id) if isinstance(resource, Principal) else resource
            )
            return check(nobody, action, about, Subscription(resource.client_id), now)
        if not isinstance(resource, Principal):
            return check(found.value, action, resource, sub.value, now)
        target = self.store.get_account(resource)
        if target is None:
            return AccessDecision(False, action, (("user", "no such user", ()),))
        return check_user(found.value, action, target.value, sub.value, now)

    def check_in(
        self, standing: Standing, actor: Principal, action: Operation, resource: Target
    ) -> AccessDecision:
        """:meth:`check` on the standing :meth:`standing` read for ``actor``, so that a page
        that decides on a document and lists the documents ``actor`` may see (with
        :meth:`visible_in`) reads the store once.

        A resource in the actor's own subscription or in one that invites them is decided
        on the standing, without a read; any other (a user, a subscription the standing does
        not hold, an actor without an account) is decided by :meth:`check`, which
        reads. The decision is :meth:`check`'s on the state the standing was read from."""
        _target(resource)
        account = standing.account
        if account is not None and account.value.principal != actor:
            raise MalformedInput("the standing was read for another actor")
        if account is None or isinstance(resource, Principal):
            return self.check(actor, action, resource)
        if resource.client_id == actor.client_id:
            sub = None if standing.subscription is None else standing.subscription.value
        else:
            sub = next((s for s in standing.inviting if s.client_id == resource.client_id), None)
        if sub is None:
            return self.check(actor, action, resource)
        return check(account.value, action, resource, sub, self.clock.now())

    def standing(self, actor: Principal) -> Standing:
        """What :meth:`visible_in` and :meth:`check_in` decide on: the actor's account, own
        subscription and the subscriptions inviting them, in one read of the store."""
        return self.store.standing(actor, actor.client_id, inviting=True)

    def visible(self, actor: Principal, action: Operation = Operation.VIEW) -> VisibilityFilter:
        """The filter of documents ``actor`` may see, for a catalogue query."""
        return self.visible_in(self.standing(actor), action)

    def visible_in(
        self, standing: Standing, action: Operation = Operation.VIEW
    ) -> VisibilityFilter:
        """:meth:`visible` on a standing already read (``store.standing(actor,
        actor.client_id, inviting=True)``), for a caller that needs it for more (one read)."""
        account = standing.account
        if account is None:
            return VisibilityFilter(())
        subs = list(standing.inviting)
        if standing.subscription is not None:
            subs.append(standing.subscription.value)
        return self.filters.filter(account.value, subs, action, self.clock.now())


def _target(resource: object) -> None:
    """Refuse what is not a resource of a check (at run time too: callers may not be typed);
    a :class:`UserRef`, whose role a caller could choose, in particular."""
    if isinstance(resource, UserRef):
        raise MalformedInput("name the user by their Principal: the service reads the role")
    if not isinstance(resource, (Principal, DocumentRef, CompanyRef, SubscriptionRef)):
        raise MalformedInput("not a resource of an entitlement check")
