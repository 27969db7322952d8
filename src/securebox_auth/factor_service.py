"""The imperative shell for the second factors: load, decide (pure core), commit (CAS).

Each call of :class:`FactorService` reads the factor's state (a
:class:`~securebox_auth.stores.protocols.PutFactorState` document, decoded by
:mod:`securebox_auth.stores.factor_codecs`), the principal's shared
:class:`~securebox_auth.lockout.LockoutState` and the account, calls the pure verifier of
:mod:`securebox_auth.factors`, and commits the new factor state, the new lockout state and
the audit events in **one** compare-and-swap commit, guarded on the account. When another
request changed any of them in between, the call starts again from a fresh read, so a code
(a TOTP time step, an out-of-band challenge, a CAP counter or challenge, a recovery code, a
WebAuthn ceremony) is accepted at most once whatever the number of concurrent requests and
processes, and two failures are never counted as one. Argon2 answers are remembered within
one call, so a retry costs no second verification.

A principal whose account is missing or not active is treated as having no factor: the
attempt costs the same work and is counted the same way.

The renewal clock (the last strong authentication of a principal on a channel) is stored
too (:meth:`FactorService.last_sca`, :meth:`FactorService.renewal_change`), for
:func:`securebox_auth.policy.engine.decide_login`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar

from securebox_auth.attempts import blocked_refusal, register_failure
from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError
from securebox_auth.factors.cap import CapRequest, CapRules, verify_cap
from securebox_auth.factors.cap_linking import linked_request
from securebox_auth.factors.certificate import (
    CertChallenge,
    Revocation,
    new_nonce,
    verify_cert_challenge,
)
from securebox_auth.factors.certificate import issue_cert_challenge as issue_cert_core
from securebox_auth.factors.oob import (
    Channel,
    IssueResult,
    OobRules,
    SendLog,
    inactive_issue,
    keyed_destination_key,
    verify_oob,
)
from securebox_auth.factors.oob import issue_oob as issue_oob_core
from securebox_auth.factors.outcome import Outcome
from securebox_auth.factors.passkeys import Ceremony, RelyingParty
from securebox_auth.factors.recovery import RecoveryCodeRules, verify_recovery_code
from securebox_auth.factors.totp import TotpCredential, TotpRules, confirm_totp, verify_totp
from securebox_auth.factors.webauthn import begin_authentication, finish_authentication
from securebox_auth.factors.x509_trust import TrustSettings
from securebox_auth.gateways import Gateway
from securebox_auth.hashing import CodeHasher, OnceHasher
from securebox_auth.identity import Principal
from securebox_auth.key_purposes import check_service_keys
from securebox_auth.keys import KeyProvider, WrappingKeys
from securebox_auth.lockout import Element, LockoutAlert, LockoutRules, LockoutState
from securebox_auth.methods import CERTIFICATE as CERTIFICATE_METHOD
from securebox_auth.methods import TOTP as TOTP_METHOD
from securebox_auth.methods import AuthMethod
from securebox_auth.policy.linking import Payment
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    PutFactorState,
    PutLockout,
    Versioned,
)

__all__ = ["DEFAULT_ITEM", "USER_SENDS", "FactorResult", "FactorService"]

_MAX_ATTEMPTS: Final = 16
#: The item of the factors a principal has one of (TOTP, recovery codes, passkey set).
DEFAULT_ITEM: Final = "default"
#: The item of a principal's own out-of-band send log (kind ``oob_sends``).
USER_SENDS: Final = "user"

R = TypeVar("R")
Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FactorResult:
    """What a form may show. ``reason`` is for the caller's logs, never for the user."""

    outcome: Outcome
    principal: Principal
    at: datetime
    reason: str | None = None
    method: AuthMethod | None = None
    alert: LockoutAlert = LockoutAlert.NONE
    blocked_until: datetime | None = None
    #: Recovery codes: few are left (tell the user to make new ones).
    running_low: bool = False
    #: The dynamic-linking digest a successful code proved (CAP Sign/TDS, linked OOB).
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(slots=True)
class _Read:
    """What one attempt read: the lockout, the account guard, the factor documents."""

    principal: Principal
    lockout: Versioned[LockoutState]
    active: bool
    guard: Expect
    states: dict[tuple[str, str], Versioned[Document] | None]

    def doc(self, kind: str, item: str) -> Document | None:
        found = self.states[(kind, item)]
        return None if found is None or not self.active else found.value

    def changes(
        self, lockout: LockoutState, writes: Sequence[tuple[str, str, Document | None]]
    ) -> list[Change]:
        """The guard, the lockout if it moved, and each factor document that changed."""
        changes: list[Change] = [self.guard]
        if lockout != self.lockout.value:
            changes.append(PutLockout(self.principal, self.lockout.version, lockout))
        for kind, item, document in writes:
            stored = self.states[(kind, item)]
            if document is None or (stored is not None and stored.value == document):
                continue
            version = 0 if stored is None else stored.version
            changes.append(PutFactorState(self.principal, kind, item, version, document))
        return changes


def _decode(document: Document | None, decode: Callable[[Document], R]) -> R | None:
    return None if document is None else decode(document)


class FactorService:
    """TOTP, out-of-band codes, CAP codes, recovery codes, passkey assertions and
    certificate challenge signatures on a store.

    Only the dependencies of the factors used need be given: ``hasher`` for out-of-band
    and recovery codes, ``keys`` for recovery codes, out-of-band send logs and passkey
    decoys, ``issuer`` for CAP, ``relying_party`` (and ``keys``) for passkeys, ``wrapping``
    for TOTP (the seeds are stored wrapped under it).

    The keys of different purposes (the store's audit key, the hasher's pepper, ``keys``,
    ``wrapping``, the issuer's card-key wrapping key) must be different keys: the
    constructor raises :class:`~securebox_auth.errors.KeyReuse` otherwise.
    """

    def __init__(
        self,
        store: AuthStore,
        *,
        clock: Clock | None = None,
        lockout_rules: LockoutRules | None = None,
        hasher: CodeHasher | None = None,
        keys: KeyProvider | None = None,
        issuer: IssuerKeyProvider | None = None,
        relying_party: RelyingParty | None = None,
        totp_rules: TotpRules | None = None,
        oob_rules: OobRules | None = None,
        cap_rules: CapRules | None = None,
        recovery_rules: RecoveryCodeRules | None = None,
        wrapping: WrappingKeys | None = None,
    ) -> None:
        check_service_keys(
            store, hasher, {"application": keys, "wrapping": wrapping, "card-key wrapping": issuer}
        )
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.lockout_rules = lockout_rules or LockoutRules()
        self.hasher = hasher
        self.keys = keys
        self.issuer = issuer
        self.relying_party = relying_party
        self.totp_rules = totp_rules or TotpRules()
        self.oob_rules = oob_rules or OobRules()
        self.cap_rules = cap_rules or CapRules()
        self.recovery_rules = recovery_rules or RecoveryCodeRules()
        self.wrapping = wrapping

    # -- the loop ---------------------------------------------------------------------------

    def _read(self, principal: Principal, keys: Sequence[tuple[str, str]]) -> _Read:
        lockout = self.store.get_lockout(principal)
        account = self.store.get_account(principal)
        states = {key: self.store.get_factor_state(principal, *key) for key in keys}
        return _Read(
            principal,
            lockout,
            account is not None and account.value.active,
            Expect("account", principal, 0 if account is None else account.version),
            states,
        )

    def _run(
        self, attempt: Callable[[datetime], tuple[list[Change], Sequence[AuditEvent], R]]
    ) -> R:
        """Read, decide and commit; on a lost race start again from a fresh read."""
        for _ in range(_MAX_ATTEMPTS):
            changes, events, result = attempt(self.clock.now())
            try:
                self.store.commit(changes, events)
            except ConcurrentUpdate:
                continue
            return result
        raise ConcurrentUpdate("too much contention on this principal; try again")

    @staticmethod
    def _result(
        outcome: Outcome,
        principal: Principal,
        now: datetime,
        reason: object,
        lockout: LockoutState,
        alert: LockoutAlert,
        method: AuthMethod | None = None,
        **extra: Any,
    ) -> FactorResult:
        return FactorResult(
            outcome,
            principal,
            now,
            None if reason is None else str(getattr(reason, "value", reason)),
            method,
            alert,
            lockout.blocked_until if outcome is Outcome.BLOCKED else None,
            **extra,
        )

    def _missing(
        self, read: _Read, now: datetime, action: str, reason: str, element: Element
    ) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
        """An attempt against a factor record that does not exist: refused when blocked,
        else counted as a failure."""
        lockout = read.lockout.value
        subject = read.principal.key
        refused = blocked_refusal(lockout, subject=subject, action=action, now=now)
        if refused is not None:
            result = self._result(
                Outcome.BLOCKED, read.principal, now, "blocked", lockout, LockoutAlert.NONE
            )
            return read.changes(lockout, ()), (refused,), result
        failed = register_failure(
            lockout,
            subject=subject,
            action=action,
            reason=reason,
            now=now,
            rules=self.lockout_rules,
            element=element,
        )
        outcome = Outcome.BLOCKED if failed.blocked else Outcome.REJECTED
        result = self._result(outcome, read.principal, now, reason, failed.state, failed.alert)
        return read.changes(failed.state, ()), failed.events, result

    # -- generic state ---------------------------------------------------------------------

    def put_state(
        self,
        principal: Principal,
        kind: str,
        item: str,
        document: Document | None,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        """Store (or delete, with ``None``) a factor document, whatever its version: for
        enrolments and administration, whose pure functions already decided."""

        if kind == fc.TOTP and document is not None and "secret" in document:
            raise ConfigurationError("a TOTP seed is stored wrapped: use FactorService.store_totp")

        def attempt(_: datetime) -> tuple[list[Change], Sequence[AuditEvent], None]:
            stored = self.store.get_factor_state(principal, kind, item)
            if document is None and stored is None:
                return [], (), None
            version = 0 if stored is None else stored.version
            return [PutFactorState(principal, kind, item, version, document)], events, None

        self._run(attempt)

    # -- TOTP --------------------------------------------------------------------------------

    def store_totp(
        self,
        principal: Principal,
        credential: TotpCredential,
        *,
        item: str = DEFAULT_ITEM,
        events: Sequence[AuditEvent] = (),
    ) -> None:
        """Store a TOTP credential (an enrolment, before :meth:`confirm_totp`) with its seed
        wrapped under ``wrapping``, bound to ``principal`` and ``item``."""
        wrapping = self._need(self.wrapping, "wrapping")
        document = fc.totp_to_dict(credential, keys=wrapping, principal=principal, item=item)
        self.put_state(principal, fc.TOTP, item, document, events)

    def rewrap_totp(self, principal: Principal, *, item: str = DEFAULT_ITEM) -> bool:
        """Re-wrap a stored seed in the legacy clear form, or under a key that is no longer
        current, under the current key (for a migration or a key rotation that does not wait
        for each user's next attempt). True when the document was rewritten."""
        wrapping = self._need(self.wrapping, "wrapping")

        def attempt(_: datetime) -> tuple[list[Change], Sequence[AuditEvent], bool]:
            found = self.store.get_factor_state(principal, fc.TOTP, item)
            if found is None or not fc.totp_needs_rewrap(found.value, wrapping):
                return [], (), False
            credential = fc.totp_from_dict(
                found.value, keys=wrapping, principal=principal, item=item
            )
            document = fc.totp_to_dict(credential, keys=wrapping, principal=principal, item=item)
            return [PutFactorState(principal, fc.TOTP, item, found.version, document)], (), True

        return self._run(attempt)

    def verify_totp(
        self, principal: Principal, code: object, *, path: str = "login", item: str = DEFAULT_ITEM
    ) -> FactorResult:
        """One TOTP attempt; a time step is accepted once (the credential's ``last_step``
        moves under compare-and-swap)."""
        return self._totp(principal, code, path, item, confirming=False)

    def confirm_totp(
        self, principal: Principal, code: object, *, item: str = DEFAULT_ITEM
    ) -> FactorResult:
        """Finish a TOTP enrolment (stored unconfirmed with :meth:`put_state`): the first
        code proves the application holds the seed; its step cannot then log in."""
        return self._totp(principal, code, "login", item, confirming=True)

    def _totp(
        self, principal: Principal, code: object, path: str, item: str, *, confirming: bool
    ) -> FactorResult:
        key = (fc.TOTP, item)
        wrapping = self._need(self.wrapping, "wrapping")

        def decode(document: Document) -> TotpCredential:
            return fc.totp_from_dict(document, keys=wrapping, principal=principal, item=item)

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, (key,))
            stored = read.doc(*key)
            credential = _decode(stored, decode)
            if confirming:
                verdict = confirm_totp(
                    credential,
                    read.lockout.value,
                    principal,
                    code,
                    now=now,
                    rules=self.totp_rules,
                    lockout_rules=self.lockout_rules,
                )
            else:
                verdict = verify_totp(
                    credential,
                    read.lockout.value,
                    principal,
                    code,
                    now=now,
                    rules=self.totp_rules,
                    lockout_rules=self.lockout_rules,
                    path=path,
                )
            # A success moves last_step; a seed in the legacy clear form, or under a retired
            # key, is written back wrapped under the current key at any attempt.
            keep = verdict.credential if verdict.ok else credential
            document = None
            if keep is not None and (
                verdict.ok or (stored is not None and fc.totp_needs_rewrap(stored, wrapping))
            ):
                document = fc.totp_to_dict(keep, keys=wrapping, principal=principal, item=item)
            changes = read.changes(verdict.lockout, [(*key, document)])
            method = TOTP_METHOD if verdict.ok and not confirming else None
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, method,
            )  # fmt: skip
            return changes, verdict.events, result

        return self._run(attempt)

    # -- out-of-band codes ------------------------------------------------------------------

    def issue_oob(
        self,
        principal: Principal,
        *,
        channel: Channel,
        destination: str,
        purpose: str,
        reference: str,
        gateway: Gateway,
        digest: str | None = None,
        display: tuple[tuple[str, str], ...] = (),
        code: str | None = None,
    ) -> IssueResult:
        """Issue a code bound to ``(purpose, reference, digest)`` and send it.

        The per-user and per-destination throttles (:class:`~securebox_auth.factors.oob.
        SendLog` documents of kind ``oob_sends``, items :data:`USER_SENDS` and the keyed
        :func:`~securebox_auth.factors.oob.keyed_destination_key`) and the new challenge are
        committed together under compare-and-swap, so concurrent requests cannot exceed a
        throttle; the message goes to ``gateway`` only **after** that commit succeeded (a
        code that was not stored is never sent). A :class:`~securebox_auth.gateways.
        DeliveryFailed` is raised as is: the challenge and the sends stay counted.

        Limitation: the per-destination log is stored under ``principal`` (every factor
        record is keyed by a principal), so it bounds the codes one principal sends to one
        destination, not the codes all principals send to it. A store-wide bound needs a
        principal-independent record (a schema migration); until then a deployment that
        fears SMS pumping across accounts rate-limits destinations at its gateway.

        A principal whose account is missing or not active gets the same answer, after the
        same work (throttles, code hash, stored challenge that can never verify), but no
        message is sent: only the audit record (``refused``, reason ``inactive``) tells
        (ASVS 5.0 6.3.8; see :func:`~securebox_auth.factors.oob.inactive_issue`). ``code``
        exists for deterministic tests.
        """
        hasher = self._need(self.hasher, "hasher")
        keys = self._need(self.keys, "keys")
        user_key = (fc.OOB_SENDS, USER_SENDS)
        target_key = (fc.OOB_SENDS, keyed_destination_key(keys, channel, destination))

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], IssueResult]:
            read = self._read(principal, (user_key, target_key))
            # the send logs count for any claimed principal, active or not (same throttles)
            logs = [read.states[key] for key in (user_key, target_key)]
            user_log, target_log = (
                SendLog() if log is None else fc.send_log_from_dict(log.value) for log in logs
            )
            issued = issue_oob_core(
                principal,
                channel=channel,
                destination=destination,
                purpose=purpose,
                reference=reference,
                now=now,
                rules=self.oob_rules,
                hasher=hasher,
                user_log=user_log,
                destination_log=target_log,
                digest=digest,
                display=display,
                code=code,
            )
            if not issued.ok or issued.challenge is None:
                return read.changes(read.lockout.value, ()), issued.events, issued
            # Known or not, the same work and the same answer (ASVS 5.0 6.3.8): the sends
            # and the challenge are stored either way; only the audit record tells.
            changes = read.changes(
                read.lockout.value,
                [
                    (*user_key, fc.send_log_to_dict(issued.user_log)),
                    (*target_key, fc.send_log_to_dict(issued.destination_log)),
                ],
            )
            document = fc.oob_challenge_to_dict(issued.challenge)
            changes.append(PutFactorState(principal, fc.OOB, issued.challenge.id, 0, document))
            active[0] = read.active
            if not read.active:
                issued = inactive_issue(issued)
            return changes, issued.events, issued

        active = [True]
        result = self._run(attempt)
        if result.ok and result.message is not None and active[0]:
            gateway.send(result.message)  # only once the challenge and the sends are stored
        return result

    def verify_oob(
        self,
        principal: Principal,
        challenge_id: str,
        code: object,
        *,
        purpose: str,
        reference: str,
        digest: str | None = None,
    ) -> FactorResult:
        """One attempt with a received code: the challenge is consumed (or its wrong
        tries counted) in the same commit as the lockout."""
        hasher = OnceHasher(self._need(self.hasher, "hasher"))
        key = (fc.OOB, challenge_id)

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, (key,))
            challenge = _decode(read.doc(*key), fc.oob_challenge_from_dict)
            verdict = verify_oob(
                challenge,
                read.lockout.value,
                principal,
                code,
                purpose=purpose,
                reference=reference,
                now=now,
                hasher=hasher,
                rules=self.oob_rules,
                lockout_rules=self.lockout_rules,
                digest=digest,
            )
            stored = verdict.challenge if challenge is not None else None
            document = None if stored is None else fc.oob_challenge_to_dict(stored)
            changes = read.changes(verdict.lockout, [(*key, document)])
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, digest=digest if verdict.ok else None,
            )  # fmt: skip
            return changes, verdict.events, result

        return self._run(attempt)

    # -- CAP ----------------------------------------------------------------------------------

    def verify_cap(
        self,
        principal: Principal,
        card_id: str,
        code: str,
        *,
        challenge_id: str | None = None,
        request: CapRequest | None = None,
        linked: tuple[CapMode, Payment] | None = None,
    ) -> FactorResult:
        """One CAP code. A Respond code names its stored challenge (``challenge_id``);
        Identify, Sign and TDS codes pass their ``request``. A code for a digest-linked
        challenge (:func:`~securebox_auth.factors.cap_linking.issue_linked_challenge`) names
        the challenge and passes ``linked=(mode, payment)``: the payment presented now must
        be the one the challenge was issued for. The card's counter and the challenge move in
        the same commit as the lockout, so a code is accepted once."""
        issuer = self._need(self.issuer, "issuer")
        if (challenge_id is None) == (request is None):
            raise ConfigurationError("a CAP code names a stored challenge, or passes a request")
        if linked is not None and challenge_id is None:
            raise ConfigurationError("a linked CAP code names its stored challenge")
        keys = [(fc.CAP_CARD, card_id)]
        if challenge_id is not None:
            keys.append((fc.CAP_CHALLENGE, challenge_id))
        mode = "respond" if request is None else request.mode.value
        if linked is not None:
            mode = linked[0].value

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, keys)
            card = _decode(read.doc(fc.CAP_CARD, card_id), fc.cap_card_from_dict)
            challenge = None
            if challenge_id is not None:
                found = read.doc(fc.CAP_CHALLENGE, challenge_id)
                challenge = _decode(found, fc.cap_challenge_from_dict)
            if card is None:  # stored under the principal: that is what binds it to them
                return self._missing(read, now, f"cap.{mode}", "unknown_card", Element.CAP)
            if challenge_id is not None and challenge is None:
                return self._missing(read, now, f"cap.{mode}", "no_challenge", Element.CAP)
            cap_request = request
            if challenge is not None:
                cap_request = (
                    CapRequest.respond(challenge)
                    if linked is None
                    else linked_request(linked[0], challenge, linked[1])
                )
            assert cap_request is not None
            verdict = verify_cap(
                card,
                cap_request,
                code,
                lockout=read.lockout.value,
                now=now,
                issuer=issuer,
                lockout_rules=self.lockout_rules,
                rules=self.cap_rules,
            )
            writes: list[tuple[str, str, Document | None]] = [
                (fc.CAP_CARD, card_id, fc.cap_card_to_dict(verdict.card))
            ]
            if challenge_id is not None and verdict.challenge is not None:
                writes.append(
                    (fc.CAP_CHALLENGE, challenge_id, fc.cap_challenge_to_dict(verdict.challenge))
                )
            outcome = Outcome(verdict.outcome.value)
            result = self._result(
                outcome, principal, now, verdict.reason, verdict.lockout, verdict.alert,
                verdict.method, digest=verdict.digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), verdict.events, result

        return self._run(attempt)

    # -- recovery codes ----------------------------------------------------------------------

    def verify_recovery(
        self, principal: Principal, code: object, *, path: str = "recovery"
    ) -> FactorResult:
        """One recovery code; a matching code is used up under compare-and-swap."""
        hasher = OnceHasher(self._need(self.hasher, "hasher"))
        keys = self._need(self.keys, "keys")
        key = (fc.RECOVERY, DEFAULT_ITEM)

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, (key,))
            recovery = _decode(read.doc(*key), fc.recovery_from_dict)
            verdict = verify_recovery_code(
                recovery,
                read.lockout.value,
                principal,
                code,
                now=now,
                hasher=hasher,
                keys=keys,
                lockout_rules=self.lockout_rules,
                rules=self.recovery_rules,
                path=path,
            )
            document = None
            if verdict.ok and verdict.recovery is not None:
                document = fc.recovery_to_dict(verdict.recovery)
            changes = read.changes(verdict.lockout, [(*key, document)])
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, running_low=verdict.running_low,
            )  # fmt: skip
            return changes, verdict.events, result

        return self._run(attempt)

    # -- passkeys -----------------------------------------------------------------------------

    def begin_passkey_authentication(
        self,
        principal: Principal,
        *,
        require_uv: bool = True,
        path: str = "login",
        operation: str | None = None,
        digest: str | None = None,
    ) -> tuple[dict[str, Any], Ceremony]:
        """Start a login or step-up with a passkey: the options for
        ``navigator.credentials.get`` and the ceremony, stored (version 0) under its id for
        :meth:`finish_passkey`. A principal without a usable passkey (or without an active
        account) gets the same options with decoy credential ids derived from the claimed
        principal under ``keys`` (stable, plausible: no existence oracle, ADR 0013)."""
        rp = self._need(self.relying_party, "relying_party")
        decoys = self._need(self.keys, "keys")
        key = (fc.PASSKEYS, DEFAULT_ITEM)

        def attempt(
            now: datetime,
        ) -> tuple[list[Change], Sequence[AuditEvent], tuple[dict[str, Any], Ceremony]]:
            read = self._read(principal, (key,))
            passkeys = _decode(read.doc(*key), fc.passkeys_from_dict)
            options, ceremony = begin_authentication(
                rp,
                principal,
                passkeys,
                now=now,
                require_uv=require_uv,
                path=path,
                operation=operation,
                digest=digest,
                decoys=decoys,
            )
            document = fc.ceremony_to_dict(ceremony)
            change = PutFactorState(principal, fc.WEBAUTHN_CEREMONY, ceremony.id, 0, document)
            return [change], (), (options, ceremony)

        return self._run(attempt)

    def finish_passkey(
        self,
        principal: Principal,
        ceremony_id: str,
        response: str | bytes | Mapping[str, Any],
        *,
        digest: str | None = None,
    ) -> FactorResult:
        """Check a WebAuthn assertion against its stored ceremony. The ceremony comes back
        consumed and the passkey's counter moves in the same commit as the lockout."""
        rp = self._need(self.relying_party, "relying_party")
        keys = [(fc.WEBAUTHN_CEREMONY, ceremony_id), (fc.PASSKEYS, DEFAULT_ITEM)]

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, keys)
            ceremony = _decode(read.doc(*keys[0]), fc.ceremony_from_dict)
            passkeys = _decode(read.doc(*keys[1]), fc.passkeys_from_dict)
            if ceremony is None:
                return self._missing(read, now, "login.passkey", "no_ceremony", Element.PASSKEY)
            verdict = finish_authentication(
                rp,
                ceremony,
                passkeys,
                read.lockout.value,
                principal,
                response,
                now=now,
                lockout_rules=self.lockout_rules,
                digest=digest,
            )
            writes: list[tuple[str, str, Document | None]] = [
                (*keys[0], fc.ceremony_to_dict(verdict.ceremony))
            ]
            if passkeys is not None and verdict.passkeys is not None:
                writes.append((*keys[1], fc.passkeys_to_dict(verdict.passkeys)))
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, digest=digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), verdict.events, result

        return self._run(attempt)

    # -- certificates -------------------------------------------------------------------------

    def issue_cert_challenge(
        self,
        principal: Principal,
        *,
        purpose: str,
        audience: str,
        digest: str | None = None,
        lifetime: timedelta = timedelta(minutes=2),
        challenge_id: str | None = None,
    ) -> CertChallenge:
        """A single-use challenge for the principal's token to sign, stored (version 0,
        kind ``cert_challenge``) under its id for :meth:`verify_certificate`. The nonce (and,
        unless given, the id) are drawn here; the challenge is the same whether or not the
        principal has a certificate."""
        chosen = challenge_id or secrets.token_urlsafe(16)
        nonce = new_nonce()

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], CertChallenge]:
            challenge, event = issue_cert_core(
                principal,
                challenge_id=chosen,
                nonce=nonce,
                purpose=purpose,
                audience=audience,
                now=now,
                lifetime=lifetime,
                digest=digest,
            )
            document = fc.cert_challenge_to_dict(challenge)
            change = PutFactorState(principal, fc.CERT_CHALLENGE, chosen, 0, document)
            return [change], (event,), challenge

        return self._run(attempt)

    def verify_certificate(
        self,
        principal: Principal,
        challenge_id: str,
        signature: bytes,
        *,
        trust: TrustSettings,
        revocation: Revocation,
        purpose: str,
        audience: str,
        digest: str | None = None,
        path: str = "login",
        method: AuthMethod = CERTIFICATE_METHOD,
    ) -> FactorResult:
        """Check a signature over a stored challenge with the enrolled certificate (kind
        ``certificate``, item :data:`DEFAULT_ITEM`). ``trust`` and ``revocation`` are the
        caller's (never stored). The challenge comes back consumed, whatever the result, and
        is stored in the same commit as the lockout, so a signature is accepted once."""
        keys = [(fc.CERT_CHALLENGE, challenge_id), (fc.CERTIFICATE, DEFAULT_ITEM)]

        def attempt(now: datetime) -> tuple[list[Change], Sequence[AuditEvent], FactorResult]:
            read = self._read(principal, keys)
            challenge = _decode(read.doc(*keys[0]), fc.cert_challenge_from_dict)
            credential = _decode(read.doc(*keys[1]), fc.cert_credential_from_dict)
            verdict = verify_cert_challenge(
                credential,
                challenge,
                read.lockout.value,
                principal,
                signature,
                purpose=purpose,
                audience=audience,
                digest=digest,
                trust=trust,
                revocation=revocation,
                now=now,
                lockout_rules=self.lockout_rules,
                path=path,
                method=method,
            )
            writes: list[tuple[str, str, Document | None]] = []
            if challenge is not None and verdict.challenge is not None:
                writes.append((*keys[0], fc.cert_challenge_to_dict(verdict.challenge)))
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, digest=digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), verdict.events, result

        return self._run(attempt)

    # -- the renewal clock --------------------------------------------------------------------

    def last_sca(self, principal: Principal, channel: str) -> datetime | None:
        """The last strong authentication of ``principal`` on ``channel`` (``None``: never),
        the ``last_sca`` of :func:`~securebox_auth.policy.engine.decide_login`."""
        found = self.store.get_factor_state(principal, fc.RENEWAL, channel)
        if found is None:
            return None
        at = fc.renewal_from_dict(found.value)
        account = self.store.get_account(principal)
        if account is not None and at < account.value.created_at:
            # A strong authentication of a previous holder of this user number: the new
            # person has never authenticated strongly (first access, RTS art. 10(2)(a)).
            return None
        return at

    def renewal_change(self, principal: Principal, channel: str, at: datetime) -> Change:
        """The change that records a strong authentication at ``at``, to commit with the
        login's other changes (it conflicts if another login recorded one meanwhile)."""
        found = self.store.get_factor_state(principal, fc.RENEWAL, channel)
        return self._renewal(principal, channel, at, found)

    @staticmethod
    def _renewal(
        principal: Principal, channel: str, at: datetime, found: Versioned[Document] | None
    ) -> Change:
        version = 0 if found is None else found.version
        return PutFactorState(principal, fc.RENEWAL, channel, version, fc.renewal_to_dict(at))

    def record_sca(
        self, principal: Principal, channel: str, at: datetime, events: Sequence[AuditEvent] = ()
    ) -> None:
        """Record a strong authentication on its own (never moving the clock backwards)."""

        def attempt(_: datetime) -> tuple[list[Change], Sequence[AuditEvent], None]:
            found = self.store.get_factor_state(principal, fc.RENEWAL, channel)
            if found is not None and fc.renewal_from_dict(found.value) >= at:
                return [], (), None
            return [self._renewal(principal, channel, at, found)], events, None

        self._run(attempt)

    @staticmethod
    def _need(
        value: R | None, name: Literal["hasher", "keys", "issuer", "relying_party", "wrapping"]
    ) -> R:
        if value is None:
            raise ConfigurationError(f"this factor needs FactorService({name}=...)")
        return value
