"""The loop every entitlement change runs: load, decide (pure), commit (compare-and-swap).

:class:`EntitlementShell` holds the dependencies and the round of
:class:`~securebox_auth.shell.entitlements.EntitlementService`: read the session, the
acting account and its lockout state; let the policy engine decide on the sensitive
operation; check a guessable secret when the change needs one (a company proof); apply a
pure transition; commit the new aggregate, the accounts, the session and the audit events
together. A lost race starts the round again from a fresh read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.crypto.key_purposes import check_service_keys
from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.entitlements.proofs import CompanyProofVerifier
from securebox_auth.errors import (
    AttemptsBlocked,
    NotAuthenticated,
    NotPermitted,
    StepUpNeeded,
    WrongProof,
)
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.identity import ClientId, Principal
from securebox_auth.lockout.attempts import blocked_refusal, register_failure
from securebox_auth.lockout.rules import Element, LockoutRules, LockoutState, record_success
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.book import PolicyBook
from securebox_auth.policy.decision import Decision
from securebox_auth.policy.engine import OperationRequest
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Session
from securebox_auth.shell.filter_memo import FilterMemo
from securebox_auth.shell.retry import DEFAULT_BACKOFF, Backoff, commit_retrying
from securebox_auth.shell.spent_grants import decide_unspent
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutAccount,
    PutLockout,
    PutSession,
    PutSubscription,
    Versioned,
)

__all__ = ["OPERATION", "EntitlementShell", "SecretGate"]

#: The policy's name for changes of users, rights, companies and invitations.
OPERATION: Final = "entitlements_management"

Decide = Callable[[Account, Subscription, datetime, "_Reads"], admin.AdminChange]
Extra = Callable[[admin.AdminChange, Account, datetime], tuple[list[Change], list[AuditEvent]]]


@dataclass(frozen=True, slots=True)
class SecretGate:
    """A guessable secret the change needs (a company proof): ``verify`` answers whether it
    matches; a wrong one counts as a failed attempt of the actor on the path ``action``."""

    action: str
    reason: str
    verify: Callable[[], bool]
    #: The authentication element whose failure series counts this secret.
    element: Element = Element.COMPANY_PROOF


class _Reads:
    """The account reads one attempt decided on, so that its commit guards exactly them."""

    def __init__(self, store: AuthStore) -> None:
        self._store = store
        self.versions: dict[Principal, int] = {}

    def account(self, principal: Principal) -> Account | None:
        found = self._store.get_account(principal)
        self.versions.setdefault(principal, found.version if found else 0)
        return found.value if found else None


class EntitlementShell:
    """Dependencies and the commit loop of the entitlement service."""

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
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backoff = backoff
        self._sleep = sleep
        # The pepper, the audit key and the company-proof key are three keys (KeyReuse).
        check_service_keys(store, hasher, {"company proof": getattr(company_proofs, "keys", None)})
        self.store = store
        self.hasher = hasher
        self.company_proofs = company_proofs
        self.clock: Clock = clock or SystemClock()
        self.code_rules = code_rules or CodeRules()
        self.policies = (
            policy if isinstance(policy, PolicyBook) else PolicyBook(policy or PSD2_DEFAULT)
        )
        self.lockout_rules = lockout_rules or self.policies.default.lockout
        #: Visibility filters, kept for the exact account and subscriptions they came from.
        self.filters = FilterMemo()

    def _subscription(self, client_id: ClientId) -> tuple[Subscription, int]:
        found = self.store.get_subscription(client_id)
        if found is None:
            raise NotPermitted("no such subscription")
        return found.value, found.version

    def _session(self, session_id: str) -> tuple[Versioned[Session], Versioned[Account]]:
        found = self.store.get_session(session_id) if isinstance(session_id, str) else None
        if found is None:
            raise NotAuthenticated("no live session: log in again")
        account = self.store.get_account(found.value.principal)
        if account is None or not account.value.active:
            raise NotPermitted("the acting user has no active account")
        if found.value.auth_time < account.value.created_at:
            # A login of a previous holder of this user number: it is not this person's.
            raise NotAuthenticated("no live session: log in again")
        return found, account

    def _apply(
        self,
        session_id: str,
        decide: Decide,
        *,
        client_id: ClientId | None = None,
        extra: Extra | None = None,
        gate: SecretGate | None = None,
        also: Callable[[Any], None] | None = None,
    ) -> admin.AdminChange:
        """One round: read, decide, check the gate, apply, commit; a lost race (of this
        commit, or of the audit of a refusal or a counted failure) starts it again."""

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], admin.AdminChange]:
            session, acting = self._session(session_id)
            actor = acting.value
            lockout = self.store.get_lockout(actor.principal)
            guard = Expect("account", actor.principal, acting.version)
            if gate is not None:
                self._passes(gate, actor, lockout, guard, now)
            outcome, spent = decide_unspent(
                self.store,
                self.policies.for_subscription(actor.principal.client_id),
                session.value,
                OperationRequest(OPERATION),
                now=now,
                lockout=lockout.value,
                path="entitlements",
            )
            if not outcome.decision.allowed:
                self._refuse(session_id, session, outcome.session, outcome.decision)
            changes: list[Change] = [PutSession(session_id, session.version, outcome.session)]
            changes += spent
            if gate is not None:
                if not gate.verify():
                    self._count_failure(gate, actor, lockout, now, [*changes, guard])
                # The failure state read before the check is part of the commit: a
                # concurrent wrong secret that counted meanwhile makes this round start again.
                # A right secret ends its element's failure series (and no other's).
                succeeded = record_success(lockout.value, element=gate.element)
                changes.append(PutLockout(actor.principal, lockout.version, succeeded))
            sub, version = self._subscription(client_id or actor.principal.client_id)
            reads = _Reads(self.store)
            change = decide(actor, sub, now, reads)
            # The subscription row is written by every change, even when only accounts
            # change: concurrent changes of one subscription are serialised, so a rule
            # judged on several rows (the last administrator) cannot be broken by two
            # changes that each saw the other's "before" (write skew).
            changes += [PutSubscription(sub.client_id, version, change.subscription), guard]
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
            return changes, events, change

        return commit_retrying(
            self.store, self.clock, attempt, backoff=self.backoff, sleep=self._sleep,
            what="subscription", also=also,
        )  # fmt: skip

    def _passes(
        self,
        gate: SecretGate,
        actor: Account,
        lockout: Versioned[LockoutState],
        guard: Expect,
        now: datetime,
    ) -> None:
        """Return when the actor may try the secret; raise :class:`AttemptsBlocked` once
        the refusal is audited (:class:`ConcurrentUpdate` when that audit commit lost a
        race: the round starts again)."""
        refusal = blocked_refusal(
            lockout.value, subject=actor.principal.key, action=gate.action, now=now
        )
        if refusal is None:
            return
        self.store.commit([guard], [refusal])
        raise AttemptsBlocked("this user is blocked after too many failed attempts")

    def _count_failure(
        self,
        gate: SecretGate,
        actor: Account,
        lockout: Versioned[LockoutState],
        now: datetime,
        changes: list[Change],
    ) -> None:
        """Commit a wrong secret as a failed attempt (compare-and-swap on the failure state
        the check was made on), then raise :class:`WrongProof`. When the commit lost a race
        :class:`ConcurrentUpdate` starts the round again from a fresh read, so the failure is
        never dropped and no verdict leaves without its count."""
        record = register_failure(
            lockout.value,
            subject=actor.principal.key,
            action=gate.action,
            reason=gate.reason,
            now=now,
            rules=self.lockout_rules,
            element=gate.element,
        )
        changes = [*changes, PutLockout(actor.principal, lockout.version, record.state)]
        self.store.commit(changes, record.events)
        raise WrongProof("the proof does not match")

    def _refuse(
        self,
        session_id: str,
        before: Versioned[Session],
        after: Session,
        decision: Decision,
    ) -> NoReturn:
        """Store what the refusal changed in the session (a cancelled grant), then raise
        (:class:`ConcurrentUpdate` when that commit lost a race: decide again)."""
        if after != before.value:
            self.store.commit([PutSession(session_id, before.version, after)], [])
        raise StepUpNeeded(decision, decision.explain())
