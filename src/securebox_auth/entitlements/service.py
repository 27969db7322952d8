"""The imperative shell for entitlements: load, decide (pure), commit (compare-and-swap).

Changing users, rights, companies or invitations is a **sensitive operation**: every change
is made in an authenticated session (its identifier is the first argument), and the policy
engine decides on the operation ``entitlements_management`` first (PSD2 RTS: step-up for
"gestion des habilitations", seed 001; ASVS 5 7.5.1). When the engine asks for a step-up, the
change is refused with :class:`~securebox_auth.errors.StepUpNeeded` carrying the decision.
When it allows, the change, its audit events and the new session state (activity, a consumed
single-use grant) are committed in one compare-and-swap; a lost race re-reads and decides
again, so a rule is always judged on the state it changes and a grant is used once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from securebox_auth.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.attempts import blocked_refusal, register_failure, unblock_event
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
    NotAuthenticated,
    NotPermitted,
    StepUpNeeded,
    UnknownAccount,
)
from securebox_auth.factors.code import OneTimeCode, issue_one_time_code
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.hashing import CodeHasher
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout import Element, LockoutRules, LockoutState
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.book import PolicyBook
from securebox_auth.policy.decision import Decision
from securebox_auth.policy.engine import OperationRequest, decide_operation
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Session
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutAccount,
    PutCode,
    PutLockout,
    PutSession,
    PutSubscription,
    Versioned,
)

#: The policy's name for changes of users, rights, companies and invitations.
OPERATION = "entitlements_management"

__all__ = ["EntitlementService"]

_MAX_ATTEMPTS = 16


class _Reads:
    """The account reads one attempt decided on, so that its commit guards exactly them."""

    def __init__(self, store: AuthStore) -> None:
        self._store = store
        self.versions: dict[Principal, int] = {}

    def account(self, principal: Principal) -> Account | None:
        found = self._store.get_account(principal)
        self.versions.setdefault(principal, found.version if found else 0)
        return found.value if found else None


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
        policy: Policy | PolicyBook | None = None,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.company_proofs = company_proofs
        self.clock: Clock = clock or SystemClock()
        self.code_rules = code_rules or CodeRules()
        self.policies = (
            policy if isinstance(policy, PolicyBook) else PolicyBook(policy or PSD2_DEFAULT)
        )
        self.lockout_rules = lockout_rules or self.policies.default.lockout

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

    # -- sessions and step-up --------------------------------------------------------

    def _session(self, session_id: str) -> tuple[Versioned[Session], Versioned[Account]]:
        found = self.store.get_session(session_id) if isinstance(session_id, str) else None
        if found is None:
            raise NotAuthenticated("no live session: log in again")
        account = self.store.get_account(found.value.principal)
        if account is None or not account.value.active:
            raise NotPermitted("the acting user has no active account")
        return found, account

    def _apply(
        self,
        session_id: str,
        decide: Callable[[Account, Subscription, datetime, _Reads], admin.AdminChange],
        *,
        client_id: ClientId | None = None,
        extra: Callable[
            [admin.AdminChange, Account, datetime], tuple[list[Change], list[AuditEvent]]
        ]
        | None = None,
    ) -> admin.AdminChange:
        for _ in range(_MAX_ATTEMPTS):
            session, acting = self._session(session_id)
            actor = acting.value
            now = self.clock.now()
            lockout = self.store.get_lockout(actor.principal)
            outcome = decide_operation(
                self.policies.for_subscription(actor.principal.client_id),
                session.value,
                OperationRequest(OPERATION),
                now=now,
                lockout=lockout.value,
            )
            if not outcome.decision.allowed:
                self._refuse(session_id, session, outcome.session, outcome.decision)
                continue
            sub, version = self._subscription(client_id or actor.principal.client_id)
            reads = _Reads(self.store)
            change = decide(actor, sub, now, reads)
            # The subscription row is written by every change, even when only accounts
            # change: concurrent changes of one subscription are serialised, so a rule
            # judged on several rows (the last administrator) cannot be broken by two
            # changes that each saw the other's "before" (write skew).
            changes: list[Change] = [
                PutSession(session_id, session.version, outcome.session),
                PutSubscription(sub.client_id, version, change.subscription),
                Expect("account", actor.principal, acting.version),
            ]
            for account in change.accounts:
                expected = reads.versions.get(account.principal)
                if expected is None:
                    stored = self.store.get_account(account.principal)
                    expected = stored.version if stored else 0
                changes.append(PutAccount(account.principal, expected, account))
            events = list(change.events)
            if extra is not None:
                more_changes, more_events = extra(change, actor, now)
                changes += more_changes
                events += more_events
            try:
                self.store.commit(changes, events)
            except ConcurrentUpdate:
                continue
            return change
        raise ConcurrentUpdate("too much contention on this subscription; try again")

    def _refuse(
        self,
        session_id: str,
        before: Versioned[Session],
        after: Session,
        decision: Decision,
    ) -> None:
        """Store what the refusal changed in the session (a cancelled grant), then raise."""
        if after != before.value:
            try:
                self.store.commit([PutSession(session_id, before.version, after)], [])
            except ConcurrentUpdate:
                return  # decide again on the fresh session
        raise StepUpNeeded(decision, decision.explain())

    # -- changes ----------------------------------------------------------------------

    def add_company(self, session: str, siren: Siren, name: str, proof: str) -> None:
        """Add a company, proving it with its company secret. A wrong proof counts as a
        failed authentication attempt of the actor (it is a guessable secret)."""
        actor = self._session(session)[1].value
        now = self.clock.now()
        refusal = blocked_refusal(
            self.store.get_lockout(actor.principal).value,
            subject=actor.principal.key,
            action="company.proof",
            now=now,
        )
        if refusal is not None:
            raise NotPermitted("this user is blocked after too many failed attempts")
        if not self.company_proofs.verify(siren, proof):
            self._count_failure(actor.principal, "company.proof")
            raise NotPermitted("the company proof does not match")
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.add_company(
                acting, sub, siren, name, proof_valid=True, now=now
            ),
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
                element=Element.COMPANY_PROOF,
            )
            try:
                self.store.commit(
                    [PutLockout(principal, lockout.version, record.state)], record.events
                )
            except ConcurrentUpdate:
                continue
            return

    def remove_company(self, session: str, siren: Siren) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.remove_company(acting, sub, siren, now=now),
        )

    def add_theme(self, session: str, theme: Theme) -> None:
        self._apply(
            session, lambda acting, sub, now, reads: admin.add_theme(acting, sub, theme, now=now)
        )

    def add_user(
        self, session: str, principal: Principal, role: Role, rights: Rights
    ) -> OneTimeCode:
        """Create a user with a role and rights; returns their one-time code."""
        issued: list[OneTimeCode] = []

        def decide(
            acting: Account, sub: Subscription, now: datetime, reads: _Reads
        ) -> admin.AdminChange:
            existing = reads.account(principal)  # the commit inserts only if still as read
            if existing is not None and existing.active:
                raise AccountExists("this user exists")
            return admin.add_user(acting, sub, principal, role, rights, existing=existing, now=now)

        def with_code(
            change: admin.AdminChange, actor: Account, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            del change
            previous = self.store.get_code(principal)
            lockout = self.store.get_lockout(principal)
            code, credential, event = issue_one_time_code(
                previous.value if previous else None,
                principal,
                actor=actor.principal.key,
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

        self._apply(session, decide, extra=with_code)
        return issued[0]

    @staticmethod
    def _target(actor: Account, target: Principal, reads: _Reads) -> Account:
        if target.client_id != actor.principal.client_id:
            raise NotPermitted("this user may not administer that account")
        found = reads.account(target)
        if found is None:
            raise UnknownAccount("no such user in this subscription")
        return found

    def remove_user(self, session: str, target: Principal) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.remove_user(
                acting,
                sub,
                self._target(acting, target, reads),
                others=self.store.accounts_of(sub.client_id),
                now=now,
            ),
        )

    def set_role(self, session: str, target: Principal, role: Role) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.set_role(
                acting,
                sub,
                self._target(acting, target, reads),
                role,
                others=self.store.accounts_of(sub.client_id),
                now=now,
            ),
        )

    def set_rights(self, session: str, target: Principal, rights: Rights) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.set_rights(
                acting, sub, self._target(acting, target, reads), rights, now=now
            ),
        )

    def _manage(
        self, target: Principal
    ) -> Callable[[Account, Subscription, datetime, _Reads], admin.AdminChange]:
        """The decision of a credential change on ``target`` (regenerate, unblock): the
        entitlement rules for managing that user; nothing changes in the subscription."""

        def decide(
            acting: Account, sub: Subscription, now: datetime, reads: _Reads
        ) -> admin.AdminChange:
            account = self._target(acting, target, reads)
            admin.authorise_user_management(acting, sub, account, now=now)
            return admin.AdminChange(sub, (), ())

        return decide

    def regenerate_code(self, session: str, target: Principal) -> OneTimeCode:
        """An administrator generates a new one-time code for a user who forgot theirs: the
        old code stops working at once, a block is lifted (the secure procedure to regain
        use, RTS 4(5)), and the new code must be changed at the first login."""
        issued: list[OneTimeCode] = []

        def credential(
            change: admin.AdminChange, actor: Account, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            del change
            stored = self.store.get_code(target)
            lockout = self.store.get_lockout(target)
            code, new, event = issue_one_time_code(
                stored.value if stored else None,
                target,
                actor=actor.principal.key,
                now=now,
                hasher=self.hasher,
                rules=self.code_rules,
            )
            issued[:] = [code]
            changes: list[Change] = [PutCode(target, stored.version if stored else 0, new)]
            events = [event]
            if lockout.value != LockoutState():
                changes.append(PutLockout(target, lockout.version, LockoutState()))
                events.append(
                    unblock_event(
                        lockout.value, actor=actor.principal.key, subject=target.key, now=now
                    )
                )
            return changes, events

        self._apply(session, self._manage(target), extra=credential)
        return issued[0]

    def unblock(self, session: str, target: Principal) -> None:
        """An administrator lifts a temporary or permanent block of a user."""

        def lift(
            change: admin.AdminChange, actor: Account, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            del change
            lockout = self.store.get_lockout(target)
            event = unblock_event(
                lockout.value, actor=actor.principal.key, subject=target.key, now=now
            )
            return [PutLockout(target, lockout.version, LockoutState())], [event]

        self._apply(session, self._manage(target), extra=lift)

    def invite(
        self,
        session: str,
        invitee: Principal,
        companies: frozenset[Siren],
        *,
        documents: DocumentScope | None = None,
        operations: frozenset[Operation] = THIRD_PARTY_OPERATIONS,
    ) -> str:
        """Invite a user of another subscription; returns the invitation id."""
        invitation_id = secrets.token_urlsafe(12)
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.invite_third_party(
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

    def accept_invitation(self, session: str, client_id: ClientId, invitation_id: str) -> None:
        """The invitee accepts (a change of their own entitlements: a sensitive operation)."""
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.accept_invitation(
                acting, sub, invitation_id, now=now
            ),
            client_id=client_id,
        )

    def decline_invitation(self, session: str, client_id: ClientId, invitation_id: str) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.decline_invitation(
                acting, sub, invitation_id, now=now
            ),
            client_id=client_id,
        )

    def revoke_invitation(self, session: str, invitation_id: str) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.revoke_invitation(
                acting, sub, invitation_id, now=now
            ),
        )

    def switch_delivery(self, session: str, *, digital: bool) -> None:
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.switch_delivery(
                acting, sub, digital=digital, now=now
            ),
        )
