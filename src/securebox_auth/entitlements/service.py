"""The imperative shell for entitlements: load, decide (pure), commit (compare-and-swap).

Every change is applied together with its audit events in one atomic commit of the
subscription aggregate (and the accounts it touches). A lost race re-reads and decides
again, so a rule is always judged on the state it changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from securebox_auth.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.attempts import blocked_refusal, register_failure
from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.entitlements import admin
from securebox_auth.entitlements.check import AccessDecision, check
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    DocumentScope,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.proofs import CompanyProofVerifier
from securebox_auth.entitlements.resources import Resource
from securebox_auth.entitlements.visibility import VisibilityFilter, visibility_filter
from securebox_auth.errors import (
    AccountExists,
    ConcurrentUpdate,
    NotPermitted,
    UnknownAccount,
)
from securebox_auth.factors.code import OneTimeCode, issue_one_time_code
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.hashing import CodeHasher
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout import LockoutRules, LockoutState
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    PutAccount,
    PutCode,
    PutLockout,
    PutSubscription,
)

__all__ = ["EntitlementService"]

_MAX_ATTEMPTS = 16


class EntitlementService:
    """Subscriptions, users, rights and invitations for portals."""

    def __init__(
        self,
        store: AuthStore,
        hasher: CodeHasher,
        *,
        company_proofs: CompanyProofVerifier,
        clock: Clock | None = None,
        code_rules: CodeRules | None = None,
        lockout_rules: LockoutRules | None = None,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.company_proofs = company_proofs
        self.clock: Clock = clock or SystemClock()
        self.code_rules = code_rules or CodeRules()
        self.lockout_rules = lockout_rules or LockoutRules()

    # -- reading ----------------------------------------------------------------------

    def _account(self, principal: Principal) -> Account:
        found = self.store.get_account(principal)
        if found is None or not found.value.active:
            raise NotPermitted("the acting user has no active account")
        return found.value

    def _subscription(self, client_id: ClientId) -> tuple[Subscription, int]:
        found = self.store.get_subscription(client_id)
        if found is None:
            raise NotPermitted("no such subscription")
        return found.value, found.version

    def check(self, actor: Principal, action: Operation, resource: Resource) -> AccessDecision:
        """Decide on the current state: a revoked right is refused at once."""
        found = self.store.get_account(actor)
        sub = self.store.get_subscription(resource.client_id)
        now = self.clock.now()
        if found is None or sub is None:
            return check(
                Account(actor, Role.USER, now, status=AccountStatus.DISABLED),
                action,
                resource,
                Subscription(resource.client_id),
                now,
            )
        return check(found.value, action, resource, sub.value, now)

    def visible(self, actor: Principal, action: Operation = Operation.VIEW) -> VisibilityFilter:
        """The filter of documents ``actor`` may see, for a catalogue query."""
        account = self.store.get_account(actor)
        if account is None:
            return VisibilityFilter(())
        subs = list(self.store.subscriptions_inviting(actor))
        own = self.store.get_subscription(actor.client_id)
        if own is not None:
            subs.append(own.value)
        return visibility_filter(account.value, subs, self.clock.now(), action)

    # -- opening a subscription (bank back office) -------------------------------------

    def open_subscription(
        self,
        operator: Operator,
        principal_user: Principal,
        *,
        themes: frozenset[Theme] = frozenset(),
    ) -> OneTimeCode:
        """Create a subscription with its principal user, who gets a one-time code."""
        if not isinstance(operator, Operator):
            raise NotPermitted("only the bank's back office opens a subscription")
        now = self.clock.now()
        if self.store.get_subscription(principal_user.client_id) is not None:
            raise AccountExists("this subscription exists")
        if self.store.get_account(principal_user) is not None:
            raise AccountExists("this account exists")
        previous = self.store.get_code(principal_user)
        lockout = self.store.get_lockout(principal_user)
        code, credential, issued = issue_one_time_code(
            previous.value if previous else None,
            principal_user,
            actor=operator.key,
            now=now,
            hasher=self.hasher,
            rules=self.code_rules,
        )
        sub = Subscription(principal_user.client_id, themes=themes)
        account = Account(principal_user, Role.PRINCIPAL_USER, now)
        opened = AuditEvent.make(
            now,
            "subscription.open",
            actor=operator.key,
            subject=principal_user.key,
            outcome="success",
            details={"role": Role.PRINCIPAL_USER.value},
        )
        self.store.commit(
            [
                PutSubscription(principal_user.client_id, 0, sub),
                PutAccount(principal_user, 0, account),
                PutCode(principal_user, previous.version if previous else 0, credential),
                PutLockout(principal_user, lockout.version, LockoutState()),
            ],
            [opened, issued],
        )
        return code

    # -- changes ----------------------------------------------------------------------

    def _apply(
        self,
        client_id: ClientId,
        decide: Callable[[Subscription, datetime], admin.AdminChange],
        extra: Callable[[admin.AdminChange, datetime], tuple[list[Change], list[AuditEvent]]]
        | None = None,
    ) -> admin.AdminChange:
        for _ in range(_MAX_ATTEMPTS):
            sub, version = self._subscription(client_id)
            now = self.clock.now()
            change = decide(sub, now)
            changes: list[Change] = []
            if change.subscription != sub:
                changes.append(PutSubscription(client_id, version, change.subscription))
            for account in change.accounts:
                stored = self.store.get_account(account.principal)
                changes.append(
                    PutAccount(account.principal, stored.version if stored else 0, account)
                )
            events = list(change.events)
            if extra is not None:
                more_changes, more_events = extra(change, now)
                changes += more_changes
                events += more_events
            try:
                self.store.commit(changes, events)
            except ConcurrentUpdate:
                continue
            return change
        raise ConcurrentUpdate("too much contention on this subscription; try again")

    def add_company(self, actor: Principal, siren: Siren, name: str, proof: str) -> None:
        """Add a company, proving it with its company secret. A wrong proof counts as a
        failed authentication attempt of the actor (it is a guessable secret)."""
        acting = self._account(actor)
        now = self.clock.now()
        if (
            blocked_refusal(
                self.store.get_lockout(actor).value,
                subject=actor.key,
                action="company.proof",
                now=now,
            )
            is not None
        ):
            raise NotPermitted("this user is blocked after too many failed attempts")
        if not self.company_proofs.verify(siren, proof):
            self._count_failure(actor, "company.proof")
            raise NotPermitted("the company proof does not match")
        self._apply(
            actor.client_id,
            lambda sub, now: admin.add_company(acting, sub, siren, name, proof_valid=True, now=now),
        )

    def _count_failure(self, principal: Principal, action: str) -> None:
        for _ in range(_MAX_ATTEMPTS):
            now = self.clock.now()
            lockout = self.store.get_lockout(principal)
            record = register_failure(
                lockout.value,
                subject=principal.key,
                action=action,
                reason="wrong_proof",
                now=now,
                rules=self.lockout_rules,
            )
            try:
                self.store.commit(
                    [PutLockout(principal, lockout.version, record.state)], record.events
                )
            except ConcurrentUpdate:
                continue
            return

    def remove_company(self, actor: Principal, siren: Siren) -> None:
        acting = self._account(actor)
        self._apply(
            actor.client_id, lambda sub, now: admin.remove_company(acting, sub, siren, now=now)
        )

    def add_theme(self, actor: Principal, theme: Theme) -> None:
        acting = self._account(actor)
        self._apply(actor.client_id, lambda sub, now: admin.add_theme(acting, sub, theme, now=now))

    def add_user(
        self, actor: Principal, principal: Principal, role: Role, rights: Rights
    ) -> OneTimeCode:
        """Create a user with a role and rights; returns their one-time code."""
        acting = self._account(actor)
        existing = self.store.get_account(principal)
        if existing is not None and existing.value.active:
            raise AccountExists("this user exists")
        issued: list[OneTimeCode] = []

        def with_code(
            change: admin.AdminChange, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            previous = self.store.get_code(principal)
            lockout = self.store.get_lockout(principal)
            code, credential, event = issue_one_time_code(
                previous.value if previous else None,
                principal,
                actor=actor.key,
                now=now,
                hasher=self.hasher,
                rules=self.code_rules,
            )
            issued[:] = [code]
            return (
                [
                    PutCode(principal, previous.version if previous else 0, credential),
                    PutLockout(principal, lockout.version, LockoutState()),
                ],
                [event],
            )

        self._apply(
            actor.client_id,
            lambda sub, now: admin.add_user(
                acting,
                sub,
                principal,
                role,
                rights,
                existing=existing.value if existing else None,
                now=now,
            ),
            with_code,
        )
        return issued[0]

    def _target(self, actor: Principal, target: Principal) -> Account:
        found = self.store.get_account(target)
        if target.client_id != actor.client_id:
            raise NotPermitted("this user may not administer that account")
        if found is None:
            raise UnknownAccount("no such user in this subscription")
        return found.value

    def remove_user(self, actor: Principal, target: Principal) -> None:
        acting = self._account(actor)
        account = self._target(actor, target)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.remove_user(
                acting, sub, account, others=self.store.accounts_of(actor.client_id), now=now
            ),
        )

    def set_role(self, actor: Principal, target: Principal, role: Role) -> None:
        acting = self._account(actor)
        account = self._target(actor, target)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.set_role(
                acting, sub, account, role, others=self.store.accounts_of(actor.client_id), now=now
            ),
        )

    def set_rights(self, actor: Principal, target: Principal, rights: Rights) -> None:
        acting = self._account(actor)
        account = self._target(actor, target)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.set_rights(acting, sub, account, rights, now=now),
        )

    def invite(
        self,
        actor: Principal,
        invitee: Principal,
        companies: frozenset[Siren],
        *,
        documents: DocumentScope | None = None,
        operations: frozenset[Operation] = THIRD_PARTY_OPERATIONS,
    ) -> str:
        """Invite a user of another subscription; returns the invitation id."""
        acting = self._account(actor)
        invitation_id = secrets.token_urlsafe(12)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.invite_third_party(
                acting,
                sub,
                invitee,
                companies,
                invitation_id=invitation_id,
                documents=documents,
                operations=operations,
                now=now,
            ),
        )
        return invitation_id

    def accept_invitation(
        self, invitee: Principal, client_id: ClientId, invitation_id: str
    ) -> None:
        acting = self._account(invitee)
        self._apply(
            client_id,
            lambda sub, now: admin.accept_invitation(acting, sub, invitation_id, now=now),
        )

    def decline_invitation(
        self, invitee: Principal, client_id: ClientId, invitation_id: str
    ) -> None:
        acting = self._account(invitee)
        self._apply(
            client_id,
            lambda sub, now: admin.decline_invitation(acting, sub, invitation_id, now=now),
        )

    def revoke_invitation(self, actor: Principal, invitation_id: str) -> None:
        acting = self._account(actor)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.revoke_invitation(acting, sub, invitation_id, now=now),
        )

    def switch_delivery(self, actor: Principal, *, digital: bool) -> None:
        acting = self._account(actor)
        self._apply(
            actor.client_id,
            lambda sub, now: admin.switch_delivery(acting, sub, digital=digital, now=now),
        )
