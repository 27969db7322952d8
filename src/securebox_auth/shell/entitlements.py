"""The imperative shell for entitlements: load, decide (pure), commit (compare-and-swap).

Changing users, rights, companies or invitations is a **sensitive operation**: every change
is made in an authenticated session (its identifier is the first argument), and the policy
engine decides on the operation ``entitlements_management`` first (PSD2 RTS: step-up for
"gestion des habilitations", Coop@ccess guide; ASVS 5 7.5.1). When the engine asks for a step-up,
the change is refused with :class:`~securebox_auth.errors.StepUpNeeded` carrying the decision.
When it allows, the change, its audit events and the new session state (activity, a consumed
single-use grant) are committed in one compare-and-swap; a lost race re-reads and decides
again, so a rule is always judged on the state it changes and a grant is used once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements import admin
from securebox_auth.entitlements.accounts import Account, Operator, Role
from securebox_auth.entitlements.delegation import (
    Delegated,
    authorise_delegated,
    delegation_allows,
)
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    DocumentScope,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.errors import AccountExists, NotPermitted, UnknownAccount
from securebox_auth.factors.code import OneTimeCode, issue_one_time_code
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout.attempts import unblock_event
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.sections import DelegationRules
from securebox_auth.shell import records
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.code_issue import reissued_code
from securebox_auth.shell.entitlement_loop import (
    OPERATION,
    Decide,
    SecretGate,
    _Reads,
)
from securebox_auth.shell.entitlement_reads import EntitlementReads, Target
from securebox_auth.shell.erasure import erase_factors
from securebox_auth.stores import factor_kinds as fk
from securebox_auth.stores.protocols import (
    Change,
    PutCode,
    PutLockout,
    PutSubscription,
)

#: The factor kinds that hold a person's credentials (a user number is not given to a new
#: person while any is stored).
CREDENTIAL_KINDS = fk.CREDENTIALS

__all__ = ["OPERATION", "EntitlementService", "Target"]


class EntitlementService(EntitlementReads):
    """Subscriptions, users, rights and invitations for portals."""

    # -- opening a subscription (bank back office) -------------------------------------

    def open_subscription(
        self,
        operator: Operator,
        principal_user: Principal,
        *,
        themes: frozenset[Theme] = frozenset(),
    ) -> OneTimeCode:
        """Create a subscription with its principal user, who gets a one-time code (the
        same operation as :meth:`~securebox_auth.shell.code.ConfidentialCodeService.
        create_subscription`)."""
        codes = ConfidentialCodeService(
            self.store, self.hasher, clock=self.clock, rules=self.code_rules
        )
        return codes.create_subscription(operator, principal_user, themes=themes)

    # -- changes ----------------------------------------------------------------------

    def add_company(self, session: str, siren: Siren, name: str, proof: str) -> None:
        """Add a company, proving it with its company secret (on the company's mail).

        A wrong proof counts as a failed authentication attempt of the actor (it is a
        guessable secret): the check and the count are one compare-and-swap on the actor's
        failure state, so parallel attempts cannot use one remaining try more than once.
        Raises :class:`~securebox_auth.errors.WrongProof` (counted),
        :class:`~securebox_auth.errors.AttemptsBlocked` (not checked, not counted), or
        :class:`~securebox_auth.errors.ConcurrentUpdate` after too many lost races (nothing
        was checked or counted: the caller may submit again)."""
        self._apply(
            session,
            lambda acting, sub, now, reads: admin.add_company(
                acting, sub, siren, name, proof_valid=True, now=now
            ),
            gate=SecretGate(
                "company.proof", "wrong_proof", lambda: self.company_proofs.verify(siren, proof)
            ),
        )

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
        self,
        session: str,
        principal: Principal,
        role: Role,
        rights: Rights,
        *,
        also: Callable[[Any], None] | None = None,
    ) -> OneTimeCode:
        """Create a user with a role and rights; returns their one-time code. ``also`` (SQL
        store) writes the caller's rows in the same transaction (the server's profile)."""
        issued: list[OneTimeCode] = []

        def decide(
            acting: Account, sub: Subscription, now: datetime, reads: _Reads
        ) -> admin.AdminChange:
            existing = reads.account(principal)  # the commit inserts only if still as read
            if existing is not None and existing.active:
                raise AccountExists("this user exists")
            if existing is not None and self._factors_left(principal):
                # A reused user number must not hand the previous holder's TOTP seed,
                # passkeys, card or certificate to the new person.
                raise AccountExists("this user number still holds its previous user's factors")
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

        self._apply(session, decide, extra=with_code, also=also)
        return issued[0]

    @staticmethod
    def _target(actor: Account, target: Principal, reads: _Reads) -> Account:
        if target.client_id != actor.principal.client_id:
            raise NotPermitted("this user may not administer that account")
        found = reads.account(target)
        if found is None:
            raise UnknownAccount("no such user in this subscription")
        return found

    def _factors_left(self, principal: Principal) -> bool:
        return any(self.store.factor_states_of(principal, CREDENTIAL_KINDS).values())

    def remove_user(
        self, session: str, target: Principal, *, also: Callable[[Any], None] | None = None
    ) -> None:
        """Disable a user and drop their rights; in the same commit, end every session of
        theirs (ASVS 5.0 7.4.2: a disabled account keeps no session; the ``not_before``
        watermark also refuses a login being completed meanwhile), erase their factors
        (:data:`~securebox_auth.stores.factor_kinds.ERASED_WITH_ACCOUNT`: authenticators,
        verified destinations, secret answers, the last strong authentication; NIST SP
        800-63B §6.4) with a ``factor.erase`` event naming the kinds, and revoke every
        invitation naming them in any subscription, so that nothing they were given passes
        to a later holder of their user number. Removing a removed user again erases what
        an earlier version of this method left. ``also`` as in :meth:`add_user`."""

        def end_sessions_and_invitations(
            change: admin.AdminChange, actor: Account, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            del change
            changes, ended = records.end_every_session(
                self.store, target, now, reason="user_removed"
            )
            events: list[AuditEvent] = [ended]
            erased, erase_event = erase_factors(self.store, target, now, actor.principal.key)
            changes += erased
            events += erase_event
            for inviting in self.store.subscriptions_inviting(target):
                if inviting.client_id == target.client_id:
                    continue  # never: a subscription does not invite its own users
                found = self.store.get_subscription(inviting.client_id)
                if found is None:
                    continue
                revoked, more = admin.revoke_invitations_of(
                    found.value, target, actor=actor.principal.key, now=now
                )
                if more:
                    changes.append(PutSubscription(inviting.client_id, found.version, revoked))
                    events += more
            return changes, events

        self._apply(
            session,
            lambda acting, sub, now, reads: admin.remove_user(
                acting,
                sub,
                self._target(acting, target, reads),
                others=self.store.accounts_of(sub.client_id),
                now=now,
            ),
            extra=end_sessions_and_invitations,
            also=also,
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
        def decide(
            acting: Account, sub: Subscription, now: datetime, reads: _Reads
        ) -> admin.AdminChange:
            authorise_delegated(acting, Delegated.RIGHTS, self._delegation(acting))
            return admin.set_rights(
                acting, sub, self._target(acting, target, reads), rights, now=now
            )

        self._apply(session, decide)

    def _delegation(self, acting: Account) -> DelegationRules:
        return self.policies.for_subscription(acting.principal.client_id).delegation

    def delegation_allows(self, actor: Principal, what: Delegated) -> bool:
        """Does the policy let ``actor``'s role make changes of kind ``what`` (an access
        manager's rights and codes: ``[delegation]``)? For pages deciding what to offer; the
        changes decide again."""
        found = self.store.get_account(actor)
        if found is None or not found.value.active:
            return False
        return delegation_allows(found.value, what, self._delegation(found.value))

    def _manage(self, target: Principal) -> Decide:
        """The decision of a credential change on ``target`` (regenerate, unblock): the
        entitlement rules for managing that user, and the policy's delegation to access
        managers; a removed user is refused; nothing changes in the subscription."""

        def decide(
            acting: Account, sub: Subscription, now: datetime, reads: _Reads
        ) -> admin.AdminChange:
            authorise_delegated(acting, Delegated.CODES, self._delegation(acting))
            account = self._target(acting, target, reads)
            if not account.active:  # a code for nobody: the number is given again by add_user
                raise NotPermitted("this user was removed: add them again first")
            admin.authorise_user_management(acting, sub, account, now=now)
            return admin.AdminChange(sub, (), ())

        return decide

    def regenerate_code(self, session: str, target: Principal) -> OneTimeCode:
        """An administrator generates a new one-time code for a user who forgot theirs: the
        old code stops working at once, a block is lifted (the secure procedure to regain
        use, RTS 4(5)), every session of the user ends (a recovery begun before is
        overtaken), and the new code must be changed at the first login."""
        issued: list[OneTimeCode] = []

        def credential(
            change: admin.AdminChange, actor: Account, now: datetime
        ) -> tuple[list[Change], list[AuditEvent]]:
            del change
            code, changes, events = reissued_code(
                self.store, target, actor=actor.principal.key, now=now, hasher=self.hasher,
                rules=self.code_rules, reason="code_reissued",
            )  # fmt: skip
            issued[:] = [code]
            return changes, list(events)

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
