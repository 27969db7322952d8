"""The imperative shell for confidential codes: load, decide (pure core), commit (CAS).

:class:`ConfidentialCodeService` is what a portal calls from its login form and its
administration pages. Each call reads the state from an :class:`~securebox_auth.stores.
AuthStore`, calls a pure function of :mod:`securebox_auth.factors.code`, and commits the new
state together with its audit events in one compare-and-swap; a lost race starts again from
a fresh read (:mod:`securebox_auth.shell.retry`) without redoing the argon2 work, so two
concurrent logins can never both use the last attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.crypto.hashing import CodeHasher, OnceHasher
from securebox_auth.crypto.key_purposes import check_service_keys
from securebox_auth.entitlements.accounts import Account, Operator, Role
from securebox_auth.entitlements.model import Subscription, Theme
from securebox_auth.errors import (
    AccountExists,
    NotPermitted,
    PrincipalUserExists,
    UnknownAccount,
    WeakCode,
)
from securebox_auth.factors.code import (
    ChangeOutcome,
    CodeCredential,
    CodeOutcome,
    OneTimeCode,
    change_code,
    issue_one_time_code,
    verify_code,
)
from securebox_auth.factors.code_strength import CodeRules, validate_code_syntax
from securebox_auth.factors.methods import CONFIDENTIAL_CODE, AuthMethod
from securebox_auth.identity import (
    DEFAULT_CLIENT_ID_FORMAT,
    DEFAULT_USER_NUMBER_FORMAT,
    IdentifierFormat,
    Principal,
)
from securebox_auth.lockout.attempts import unblock_event
from securebox_auth.lockout.rules import LockoutAlert, LockoutRules, LockoutState
from securebox_auth.lockout.rules import unblock as lockout_unblock
from securebox_auth.shell.code_issue import reissued_code
from securebox_auth.shell.records import end_other_sessions
from securebox_auth.shell.retry import DEFAULT_BACKOFF, Attempt, Backoff, commit_retrying
from securebox_auth.stores.principal_reads import read_principal
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutAccount,
    PutCode,
    PutLockout,
    PutSubscription,
    Versioned,
)

__all__ = ["ChangeResult", "ConfidentialCodeService", "LoginResult"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a login form may show. ``REJECTED`` never says which element was wrong."""

    outcome: CodeOutcome
    principal: Principal
    at: datetime
    blocked_until: datetime | None = None
    alert: LockoutAlert = LockoutAlert.NONE
    method: AuthMethod | None = None
    #: The lockout state once committed, for the flows (not for a form).
    lockout: LockoutState | None = field(default=None, repr=False, compare=False)

    @property
    def authenticated(self) -> bool:
        """True only for a full login. ``CHANGE_REQUIRED`` grants nothing but the right to
        change the code (by proving the one-time code again)."""
        return self.outcome is CodeOutcome.ACCEPTED


@dataclass(frozen=True, slots=True)
class ChangeResult:
    outcome: ChangeOutcome
    blocked_until: datetime | None = None
    alert: LockoutAlert = LockoutAlert.NONE

    @property
    def changed(self) -> bool:
        return self.outcome is ChangeOutcome.CHANGED


class ConfidentialCodeService:
    """Login with client identifier + user number + confidential code, code changes,
    administrator regeneration and unblocking."""

    def __init__(
        self,
        store: AuthStore,
        hasher: CodeHasher,
        *,
        clock: Clock | None = None,
        rules: CodeRules | None = None,
        lockout_rules: LockoutRules | None = None,
        client_format: IdentifierFormat = DEFAULT_CLIENT_ID_FORMAT,
        user_format: IdentifierFormat = DEFAULT_USER_NUMBER_FORMAT,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_service_keys(store, hasher)  # the pepper is not the audit key (KeyReuse)
        self.backoff = backoff
        self._sleep = sleep
        self.store = store
        self.hasher = hasher
        self.clock: Clock = clock or SystemClock()
        self.rules = rules or CodeRules()
        self.lockout_rules = lockout_rules or LockoutRules()
        self.client_format = client_format
        self.user_format = user_format

    def _run(self, attempt: Attempt[R]) -> R:
        return commit_retrying(
            self.store, self.clock, attempt, backoff=self.backoff, sleep=self._sleep,
            what="principal",
        )  # fmt: skip

    def parse_principal(self, client_id: object, user_number: object) -> Principal:
        """Validate typed identifiers (raises :class:`~securebox_auth.errors.
        InvalidIdentifier`, which says nothing about existence)."""
        return Principal.parse(
            client_id, user_number, client_format=self.client_format, user_format=self.user_format
        )

    def _active_account(self, principal: Principal) -> Account | None:
        account = self.store.get_account(principal)
        return account.value if account is not None and account.value.active else None

    def _read(
        self, principal: Principal
    ) -> tuple[Versioned[LockoutState], Versioned[CodeCredential] | None, list[Change]]:
        """The lockout state, the credential of an *active* account (else ``None``), and the
        guards that make the commit fail if the account or credential changed meanwhile."""
        found = read_principal(self.store, principal, code=True)
        lockout, account, code = found.lockout_state(), found.account, found.code
        guards: list[Change] = [
            Expect("account", principal, account.version if account else 0),
            Expect("code", principal, code.version if code else 0),
        ]
        active = account is not None and account.value.active
        return lockout, code if active else None, guards

    @staticmethod
    def _writes(
        principal: Principal,
        lockout: Versioned[LockoutState],
        stored: Versioned[CodeCredential] | None,
        new_lockout: LockoutState,
        new_credential: CodeCredential | None,
        guards: list[Change],
    ) -> list[Change]:
        changes = list(guards)
        if new_lockout != lockout.value:
            changes.append(PutLockout(principal, lockout.version, new_lockout))
        if stored is not None and new_credential is not None and new_credential != stored.value:
            changes = [c for c in changes if not (isinstance(c, Expect) and c.record == "code")]
            changes.append(PutCode(principal, stored.version, new_credential))
        return changes

    # -- login ------------------------------------------------------------------------

    def login(self, client_id: object, user_number: object, code: object) -> LoginResult:
        return self._run(self.decide_login(self.parse_principal(client_id, user_number), code))

    def decide_login(self, principal: Principal, code: object) -> Attempt[LoginResult]:
        """``login`` without its commit (a flow commits it with its own, ADR 0023)."""
        typed = validate_code_syntax(code)
        hasher = OnceHasher(self.hasher)

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], LoginResult]:
            lockout, stored, guards = self._read(principal)
            verdict = verify_code(
                stored.value if stored else None,
                lockout.value,
                principal,
                typed,
                now=now,
                hasher=hasher,
                lockout_rules=self.lockout_rules,
            )
            after = verdict.lockout
            changes = self._writes(principal, lockout, stored, after, verdict.credential, guards)
            result = LoginResult(
                outcome=verdict.outcome,
                principal=principal,
                at=now,
                blocked_until=after.blocked_until
                if verdict.outcome is CodeOutcome.BLOCKED
                else None,
                alert=verdict.alert,
                method=CONFIDENTIAL_CODE if verdict.ok else None,
                lockout=after,
            )
            return changes, verdict.events, result

        return attempt

    # -- code change ------------------------------------------------------------------

    def change_code(
        self, client_id: object, user_number: object, current_code: object, new_code: object,
        *, keep_session: str | None = None,
    ) -> ChangeResult:  # fmt: skip
        """Change the code, proving the current one. Raises :class:`WeakCode` when the new
        code is refused by the strength rules or equals one of the last codes.
        ``keep_session``: the user's session that asked for the change; every other session
        of theirs ends in the change's commit (ASVS 5.0 7.4.3)."""
        principal = self.parse_principal(client_id, user_number)
        current = validate_code_syntax(current_code)
        new = validate_code_syntax(new_code)
        hasher = OnceHasher(self.hasher)

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], ChangeResult]:
            lockout, stored, guards = self._read(principal)
            verdict = change_code(
                stored.value if stored else None,
                lockout.value,
                principal,
                current,
                new,
                now=now,
                hasher=hasher,
                rules=self.rules,
                lockout_rules=self.lockout_rules,
            )
            changes = self._writes(
                principal, lockout, stored, verdict.lockout, verdict.credential, guards
            )
            events = list(verdict.events)
            if keep_session is not None and verdict.outcome is ChangeOutcome.CHANGED:
                ended, event = end_other_sessions(
                    self.store, principal, keep_session, now, reason="code_changed"
                )
                changes, events = [*changes, *ended], [*events, event]
            blocked = verdict.outcome is ChangeOutcome.BLOCKED
            until = verdict.lockout.blocked_until if blocked else None
            return changes, events, ChangeResult(verdict.outcome, until, verdict.alert)

        result = self._run(attempt)
        if result.outcome is ChangeOutcome.REUSED:  # counted and audited first
            raise WeakCode(("previous_code",), self.rules.message("previous_code"))
        return result

    # -- administration ---------------------------------------------------------------

    def _new_account(
        self, operator: Operator, principal: Principal, role: Role, action: str
    ) -> tuple[OneTimeCode, list[Change], list[AuditEvent]]:
        """A new account of ``role`` with its one-time code and a clean lockout state (the
        changes expect the account absent), and the audit events of ``action``."""
        now = self.clock.now()
        previous = self.store.get_code(principal)
        lockout = self.store.get_lockout(principal)
        code, credential, issued = issue_one_time_code(
            previous.value if previous else None,
            principal,
            actor=operator.key,
            now=now,
            hasher=self.hasher,
            rules=self.rules,
        )
        created = AuditEvent.make(
            now,
            action,
            actor=operator.key,
            subject=principal.key,
            outcome="success",
            details={"role": role.value},
        )
        changes: list[Change] = [
            PutAccount(principal, 0, Account(principal, role, now)),
            PutCode(principal, previous.version if previous else 0, credential),
            PutLockout(principal, lockout.version, LockoutState()),
        ]
        return code, changes, [created, issued]

    def create_subscription(
        self,
        operator: Operator,
        principal_user: Principal,
        *,
        themes: frozenset[Theme] = frozenset(),
    ) -> OneTimeCode:
        """The bank's back office opens a subscription with its principal user, who gets a
        one-time code to hand over (changed at first login). The only way a principal user
        is made: there is exactly one per subscription. Raises :class:`AccountExists` when
        the subscription or the account exists, :class:`ConcurrentUpdate` when a concurrent
        call opened it first (the subscription and the account are inserted expecting
        version 0)."""
        if not isinstance(operator, Operator):
            raise NotPermitted("only the bank's back office opens a subscription")
        client_id = principal_user.client_id
        if self.store.get_subscription(client_id) is not None:
            raise AccountExists("this subscription exists")
        if self.store.get_account(principal_user) is not None:
            raise AccountExists("this account exists")
        code, changes, events = self._new_account(
            operator, principal_user, Role.PRINCIPAL_USER, "subscription.open"
        )
        opened = Subscription(client_id, themes=themes)
        self.store.commit([PutSubscription(client_id, 0, opened), *changes], events)
        return code

    def create_account(self, operator: Operator, principal: Principal, role: Role) -> OneTimeCode:
        """The bank's back office creates an account with a one-time code to hand over
        (changed at first login). Portal administrators add users through
        :meth:`securebox_auth.entitlements.service.EntitlementService.add_user`, which
        applies the entitlement rules.

        Not for the principal user, who is made with the subscription
        (:meth:`create_subscription`): :class:`PrincipalUserExists` when the subscription
        has one, :class:`NotPermitted` otherwise. Not for a third party either (a user of
        another subscription, invited). An account of a subscription that was never opened
        gets an empty subscription, without a principal user."""
        if not isinstance(operator, Operator):
            raise NotPermitted("portal users add users through the entitlement service")
        if role is Role.PRINCIPAL_USER:
            accounts = self.store.accounts_of(principal.client_id)
            if any(a.role is Role.PRINCIPAL_USER for a in accounts):
                raise PrincipalUserExists("this subscription already has its principal user")
            raise NotPermitted("a principal user is made with the subscription")
        if role is Role.THIRD_PARTY:
            raise NotPermitted("a third party is a user of another subscription, invited")

        def attempt(_: datetime) -> tuple[list[Change], list[AuditEvent], OneTimeCode]:
            if self.store.get_account(principal) is not None:
                raise AccountExists("an account with this client identifier and user number exists")
            code, changes, events = self._new_account(operator, principal, role, "account.create")
            if self.store.get_subscription(principal.client_id) is None:
                empty = Subscription(principal.client_id)
                changes.append(PutSubscription(principal.client_id, 0, empty))
            return changes, events, code

        return self._run(attempt)

    def _authorise(self, operator: Operator, target: Principal) -> str:
        """Only the bank's back office acts here; portal administrators regenerate codes and
        unblock users through :class:`~securebox_auth.entitlements.service.
        EntitlementService`, in a session that passed the policy's step-up."""
        if not isinstance(operator, Operator):
            raise NotPermitted("portal users administer users through the entitlement service")
        if self.store.get_account(target) is None:
            raise UnknownAccount("no such user")
        return operator.key

    def regenerate_code(self, operator: Operator, target: Principal) -> OneTimeCode:
        """The bank's back office generates a new one-time code for a user who forgot theirs
        (portal administrators: :meth:`~securebox_auth.entitlements.service.
        EntitlementService.regenerate_code`).

        The old code stops working at once, the block (if any) is lifted (this is the secure
        procedure to regain use, RTS 4(5)), every session of the user ends
        (:func:`~securebox_auth.shell.code_issue.reissued_code`), and the new code must be
        changed at first login.
        """
        actor_key = self._authorise(operator, target)

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], OneTimeCode]:
            code, changes, events = reissued_code(
                self.store, target, actor=actor_key, now=now, hasher=self.hasher,
                rules=self.rules, reason="code_reissued",
            )  # fmt: skip
            return changes, list(events), code

        return self._run(attempt)

    def unblock(self, operator: Operator, target: Principal) -> None:
        """The back office lifts a temporary or permanent block (portal administrators:
        :meth:`~securebox_auth.entitlements.service.EntitlementService.unblock`)."""
        actor_key = self._authorise(operator, target)

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], None]:
            lockout = self.store.get_lockout(target)
            event = unblock_event(lockout.value, actor=actor_key, subject=target.key, now=now)
            return (
                [PutLockout(target, lockout.version, lockout_unblock(lockout.value))],
                [event],
                None,
            )

        self._run(attempt)
