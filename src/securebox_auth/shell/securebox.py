"""The one entry point a portal builds: :meth:`Securebox.from_policy`.

It builds every service from the :class:`~securebox_auth.policy.model.Policy`, so each rule
(lockout, code rules, TOTP window, one-time codes, CAP window, session timeouts, ACR levels)
comes from the policy and from nowhere else, and exposes the login and step-up flows
(:mod:`securebox_auth.shell.login`, :mod:`securebox_auth.shell.step_up`), sessions,
assertions (JWT + JWKS), entitlements, enrolment (:mod:`securebox_auth.shell.enrolment`)
and the audit trail. See ``docs/tutorial.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime

from securebox_auth.audit import GLOBAL, AuditEvent, SealedEvent
from securebox_auth.audit_keys import AuditKeyring
from securebox_auth.clock import Clock, ClockMarks, SystemClock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2CodeHasher, Argon2Parameters
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.identity import Principal
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Session, touch, touch_due
from securebox_auth.policy.session_ids import session_ref
from securebox_auth.shell import keys as purposes
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.audit_chains import anchor_chains, verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.enrolment import EnrolmentShell
from securebox_auth.shell.factors import FactorService
from securebox_auth.shell.gateways import Gateway
from securebox_auth.shell.login import LoginShell
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.records import end_every_session, end_other_sessions
from securebox_auth.shell.retry import commit_retrying, retrying
from securebox_auth.shell.sessions import SessionService
from securebox_auth.shell.step_up import StepUpShell
from securebox_auth.shell.token_verifier import AssertionVerifier
from securebox_auth.stores.protocols import AuthStore, Change, PutSession
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion

__all__ = ["CertificateSettings", "Securebox"]

#: Rounds of :meth:`Securebox.touch` against concurrent writers of the same session.
_TOUCH_ROUNDS = 3


class Securebox(LoginShell, StepUpShell, EnrolmentShell):
    """Flows, sessions, assertions, entitlements and audit on one store, under one policy.

    Build it with :meth:`from_policy`; the services are attributes (``codes``,
    ``factors``, ``sessions``, ``entitlements``) for what the entry point does not wrap.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        store: AuthStore,
        keys: purposes.PurposeKeys,
        clock: Clock,
        gateways: Mapping[str, Gateway],
        token_keys: TokenKeys,
        issuer: str,
        argon2: Argon2Parameters,
        relying_party: RelyingParty | None,
        cap_issuer: IssuerKeyProvider | None,
        certificates: CertificateSettings | None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.clock = clock
        self.gateways = dict(gateways)
        self.token_keys = token_keys
        self.issuer = issuer
        self.certificates = certificates
        hasher = Argon2CodeHasher(keys.for_purpose(purposes.PEPPER), argon2)
        self.codes = ConfidentialCodeService(
            store, hasher, clock=clock, rules=policy.code, lockout_rules=policy.lockout
        )
        self.factors = FactorService(
            store,
            clock=clock,
            lockout_rules=policy.lockout,
            hasher=hasher,
            keys=keys.for_purpose(purposes.APPLICATION),
            issuer=cap_issuer,
            relying_party=relying_party,
            totp_rules=policy.totp,
            oob_rules=policy.oob,
            cap_rules=policy.cap,
            wrapping=keys.for_purpose(purposes.WRAPPING),
        )
        self.sessions = SessionService(store, clock=clock, policy=policy)
        self.entitlements = EntitlementService(
            store,
            hasher,
            company_proofs=KeyedCompanyProofs(keys.for_purpose(purposes.COMPANY_PROOF)),
            clock=clock,
            code_rules=policy.code,
            lockout_rules=policy.lockout,
            policy=policy,
        )

    @classmethod
    def from_policy(
        cls,
        policy: Policy | str | os.PathLike[str],
        *,
        store: AuthStore,
        keys: purposes.PurposeKeys,
        clock: Clock | None = None,
        gateways: Mapping[str, Gateway] | None = None,
        token_keys: TokenKeys | None = None,
        issuer: str = "securebox",
        argon2: Argon2Parameters = PROFILE_2026,
        relying_party: RelyingParty | None = None,
        cap_issuer: IssuerKeyProvider | None = None,
        certificates: CertificateSettings | None = None,
    ) -> Securebox:
        """Build the entry point. ``policy`` is a :class:`Policy` or the path of a policy
        file; ``keys`` hands a distinct keyring per purpose (:class:`~securebox_auth.shell.
        keys.DerivedKeys` from one master keyring); ``gateways`` maps ``"sms"``/``"email"``
        to the senders of one-time codes; ``token_keys`` signs assertions (every process of
        a deployment must load the same ones; a fresh pair by default, for one process).
        Without ``clock``, decisions read a clock that never goes back
        (:class:`~securebox_auth.shell.monotonic.MonotonicClock` over the system clock,
        ADR 0042), its mark shared through the store when the store offers one
        (``store.clock_marks()``: the SQL stores) and kept in memory otherwise; a
        ``clock`` given is used as it is."""
        if not isinstance(keys, purposes.PurposeKeys):
            raise ConfigurationError("keys: a PurposeKeys (for instance DerivedKeys)")
        loaded = policy if isinstance(policy, Policy) else load_policy(policy)
        return cls(
            loaded,
            store=store,
            keys=keys,
            clock=clock or _never_back(store),
            gateways=gateways or {},
            token_keys=token_keys or TokenKeys.generate(),
            issuer=issuer,
            argon2=argon2,
            relying_party=relying_party,
            cap_issuer=cap_issuer,
            certificates=certificates,
        )

    # -- sessions ---------------------------------------------------------------------------

    def touch(self, session_id: str) -> Session:
        """Record activity (the idle timeout restarts); the session as stored.

        The write is bounded (ADR 0029): ``last_activity`` is committed, by compare-and-swap,
        only when it would advance by at least ``G`` (:func:`~securebox_auth.policy.session.
        touch_granularity`), so most requests read and do not write, and a session ends at
        most ``G`` early, never late. A lost race re-reads at once (the other writer has
        usually recorded the activity); if every round is lost the live session is returned
        unwritten, which can only end it earlier: a read-only page never fails on it.
        """
        rules = self.policy.session
        for _ in range(_TOUCH_ROUNDS):
            found = self.live_session(session_id)
            now = self.clock.now()
            if not touch_due(found.value, rules, now):
                return found.value
            after = touch(found.value, now)
            try:
                self.store.commit([PutSession(session_id, found.version, after)], [])
            except ConcurrentUpdate:
                continue
            return after
        return self.live_session(session_id).value

    def rotate(self, session_id: str) -> str:
        """A new identifier for the session (same facts); the old one is dead."""
        self.live_session(session_id)
        return self.sessions.rotate(session_id)

    def end(self, session_id: str) -> None:
        """Log out."""
        self.sessions.end(session_id)

    def sessions_of(self, principal: Principal) -> list[tuple[str, Session]]:
        """The live sessions of ``principal``, each with a reference to end it (a session
        past its idle timeout or absolute lifetime is stored until it is cleaned up, but it
        is no longer live: it is left out)."""
        return self.sessions.sessions_of(principal)

    def end_all(self, principal: Principal) -> None:
        """End every session of ``principal`` opened until now: each stored session is ended
        (no service sees it any more), and a watermark makes this entry point also refuse a
        session whose login is not later (one that was being opened meanwhile): one
        commit, with one ``session.end_all`` event."""

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], None]:
            ended, event = end_every_session(self.store, principal, now, reason="requested")
            return ended, [event], None

        commit_retrying(self.store, self.clock, attempt, what="sessions")

    def end_others(self, principal: Principal, session_id: str) -> int:
        """End every live session of ``principal`` but ``session_id`` (the one asking): one
        commit, one ``session.end_others`` event; how many ended. No watermark: the asking
        session goes on."""

        def attempt(now: datetime) -> tuple[list[Change], list[AuditEvent], int]:
            ended, event = end_other_sessions(
                self.store, principal, session_id, now, reason="requested"
            )
            return ended, [event], len(ended)

        return commit_retrying(self.store, self.clock, attempt, what="sessions")

    # -- assertions -------------------------------------------------------------------------

    def assertion(self, session_id: str, *, audience: str) -> str:
        """A signed JWT of what the session proved (``acr``, ``amr``, live grants) for the
        downstream API ``audience``; counts as activity. The activity and the audit record
        of the issue are one commit (ADR 0023); the session is written only when the
        activity moves its idle clock (``last_activity`` later than stored)."""

        def attempt() -> str:
            found = self.live_session(session_id)
            now = self.clock.now()
            session = touch(found.value, now)
            token = issue_assertion(
                session,
                keys=self.token_keys,
                issuer=self.issuer,
                audience=audience,
                now=now,
                levels=self.policy.acr,
            )
            who = session.principal.key
            event = AuditEvent.make(
                now,
                "assertion.issue",
                actor=who,
                subject=who,
                outcome="success",
                details={"audience": audience, "session": session_ref(session_id)},
            )
            changes: list[Change] = []
            if session != found.value:
                changes.append(PutSession(session_id, found.version, session))
            self.store.commit(changes, [event])
            return token

        return retrying(attempt)

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        """The public keys a downstream API verifies assertions with."""
        return dict(self.token_keys.jwks())

    def assertion_verifier(self, audience: str) -> AssertionVerifier:
        """The verifier of a downstream API (single-use ``jti`` for consuming operations)."""
        return AssertionVerifier(self.token_keys, self.issuer, audience, self.store, self.clock)

    # -- audit ------------------------------------------------------------------------------

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]:
        """Chain ``tenant`` (a client identifier, or ``""``: the global chain); without a
        tenant, every event of every chain in the order recorded."""
        return self.store.audit_log(tenant)

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        return self.store.audit_head(tenant)

    def audit_tenants(self) -> list[str]:
        return self.store.audit_tenants()

    def anchor_audit(self) -> list[SealedEvent]:
        """Anchor into the global chain every tenant chain that moved (run it periodically;
        ADR 0021)."""
        return anchor_chains(self.store, self.clock)

    def verify_audit(self, tenant: str | None = None) -> int:
        """Verify the global chain and every tenant chain against its anchors (or only
        ``tenant``'s and the global chain); the number of events verified."""
        key = getattr(self.store, "audit_keys", None) or getattr(self.store, "audit_key", None)
        if not isinstance(key, bytes | AuditKeyring):
            raise ConfigurationError("this store does not expose its audit key")
        tenants = None if tenant is None else [tenant]
        return verify_audit_chains(key, self.store, tenants=tenants).total

    def now(self) -> datetime:
        return self.clock.now()


def _never_back(store: AuthStore) -> MonotonicClock:
    """The default clock of :meth:`Securebox.from_policy` (see there)."""
    marks_of = getattr(store, "clock_marks", None)
    marks: ClockMarks | None = marks_of() if callable(marks_of) else None
    return MonotonicClock(SystemClock(), marks)
