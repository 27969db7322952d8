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
        given: object = resource  # checked at run time too: callers may not be typed
        if isinstance(given, UserRef):
            raise MalformedInput("name the user by their Principal: the service reads the role")
        if not isinstance(given, (Principal, DocumentRef, CompanyRef, SubscriptionRef)):
            raise MalformedInput("not a resource of an entitlement check")
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

    def visible(self, actor: Principal, action: Operation = Operation.VIEW) -> VisibilityFilter:
        """The filter of documents ``actor`` may see, for a catalogue query."""
        return self.visible_in(self.store.standing(actor, actor.client_id, inviting=True), action)

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
