"""Out-of-band codes on a store: issuing (throttled, sent after the commit), checking, and
the enrolment of a destination (a phone number or e-mail address is kept only once a code
sent there came back)."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.hashing import CodeHasher, OnceHasher
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import (
    Channel,
    IssueResult,
    OobRules,
    SendLog,
    inactive_issue,
    keyed_destination_key,
    verify_oob,
)
from securebox_auth.factors.oob import issue_oob as issue_core
from securebox_auth.identity import Principal
from securebox_auth.shell.base import USER_SENDS, FactorResult, FactorShell, ShellOptions, Step
from securebox_auth.shell.gateways import Gateway
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore, PutFactorState

__all__ = ["ENROL_PURPOSE", "OobCodes", "OobService", "VerifiedDestination"]

#: The purpose of the code that verifies a new destination.
ENROL_PURPOSE: Final = "enrol"


class VerifiedDestination:
    """A destination a code reached (kind ``oob_destination``, item :attr:`key`)."""

    __slots__ = ("channel", "destination", "key", "verified_at")

    def __init__(self, key: str, channel: Channel, destination: str, verified_at: str) -> None:
        self.key, self.channel, self.destination = key, channel, destination
        self.verified_at = verified_at

    def __repr__(self) -> str:
        return f"VerifiedDestination(key={self.key!r}, channel={self.channel.value!r})"


class OobCodes(FactorShell):
    """Checking out-of-band codes (``hasher`` hashes them): all a verification needs."""

    def __init__(
        self,
        store: AuthStore,
        hasher: CodeHasher,
        *,
        rules: OobRules | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, **options)
        self.hasher = hasher
        self.rules = rules or OobRules()

    def verify(
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
        return self._run(self.decide(principal, challenge_id, code, purpose, reference, digest))

    def decide(
        self,
        principal: Principal,
        challenge_id: str,
        code: object,
        purpose: str,
        reference: str,
        digest: str | None = None,
    ) -> Attempt[FactorResult]:
        """:meth:`verify` without its commit (a flow commits it with its own, ADR 0023)."""
        return self._verify(principal, challenge_id, code, purpose, reference, digest, None)

    def _verify(
        self,
        principal: Principal,
        challenge_id: str,
        code: object,
        purpose: str,
        reference: str,
        digest: str | None,
        enrol: dict[str, str] | None,
    ) -> Attempt[FactorResult]:
        hasher = OnceHasher(self.hasher)
        key = (fc.OOB, challenge_id)
        keys = [key] if enrol is None else [key, (fc.OOB_DESTINATION, reference)]

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, keys)
            challenge = read.decoded(*key, fc.oob_challenge_from_dict)
            verdict = verify_oob(
                challenge, read.lockout.value, principal, code, purpose=purpose,
                reference=reference, now=now, hasher=hasher, rules=self.rules,
                lockout_rules=self.lockout_rules, digest=digest,
            )  # fmt: skip
            stored = verdict.challenge if challenge is not None else None
            document = None if stored is None else fc.oob_challenge_to_dict(stored)
            events = list(verdict.events)
            writes = [(*key, document)]
            if enrol is not None and verdict.ok:
                writes.append(
                    (fc.OOB_DESTINATION, reference, {**enrol, "verified_at": now.isoformat()})
                )
                events.append(
                    AuditEvent.make(
                        now,
                        "oob.destination.enrol",
                        actor=principal.key,
                        subject=principal.key,
                        outcome="success",
                        details={"channel": enrol["channel"], "destination": reference},
                    )
                )
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method if enrol is None else None,
                digest=digest if verdict.ok else None,
            )  # fmt: skip
            return read.changes(verdict.lockout, writes), events, result

        return attempt


class OobService(OobCodes):
    """SMS and e-mail codes, issued and checked, and destinations enrolled: ``keys`` keys
    the stored destination identifiers (no phone number in a record key)."""

    def __init__(
        self,
        store: AuthStore,
        hasher: CodeHasher,
        keys: KeyProvider,
        *,
        rules: OobRules | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, hasher, rules=rules, **options)
        self.keys = keys

    def issue(
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
        """Issue a code bound to ``(purpose, reference, digest)`` and send it: see
        :meth:`securebox_auth.shell.factors.FactorService.issue_oob`."""
        user_key = (fc.OOB_SENDS, USER_SENDS)
        target_key = (fc.OOB_SENDS, keyed_destination_key(self.keys, channel, destination))
        active = [True]

        def attempt(now: datetime) -> Step[IssueResult]:
            read = self._read(principal, (user_key, target_key))
            # the send logs count for any claimed principal, active or not (same throttles)
            logs = [read.states[key] for key in (user_key, target_key)]
            user_log, target_log = (
                SendLog() if log is None else fc.send_log_from_dict(log.value) for log in logs
            )
            issued = issue_core(
                principal, channel=channel, destination=destination, purpose=purpose,
                reference=reference, now=now, rules=self.rules, hasher=self.hasher,
                user_log=user_log, destination_log=target_log, digest=digest, display=display,
                code=code,
            )  # fmt: skip
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

        result = self._run(attempt)
        if result.ok and result.message is not None and active[0]:
            gateway.send(result.message)  # only once the challenge and the sends are stored
        return result

    # -- enrolment of a destination ------------------------------------------------------------

    def begin_destination(
        self, principal: Principal, *, channel: Channel, destination: str, gateway: Gateway
    ) -> IssueResult:
        """Send a code to a new destination (purpose :data:`ENROL_PURPOSE`, bound to the
        destination's keyed identifier, throttled like any code); :meth:`confirm_destination`
        with that code stores the destination as verified."""
        return self.issue(
            principal,
            channel=channel,
            destination=destination,
            purpose=ENROL_PURPOSE,
            reference=keyed_destination_key(self.keys, channel, destination),
            gateway=gateway,
        )

    def confirm_destination(
        self,
        principal: Principal,
        challenge_id: str,
        code: object,
        *,
        channel: Channel,
        destination: str,
    ) -> FactorResult:
        """Check the code sent by :meth:`begin_destination`; the destination must be the
        one the code was sent to (its keyed identifier is the challenge's reference). On
        success the destination is stored (kind ``oob_destination``) and audited
        ``oob.destination.enrol`` in the same commit; a wrong code counts as a failure."""
        key = keyed_destination_key(self.keys, channel, destination)
        record = {"channel": channel.value, "destination": destination}
        return self._run(
            self._verify(principal, challenge_id, code, ENROL_PURPOSE, key, None, record)
        )

    def register_destination(
        self, principal: Principal, *, channel: Channel, destination: str, actor: str
    ) -> None:
        """The bank's own registration of a destination (its registration channel: a back
        office or an administrator of the subscription adding the user), stored as verified
        without a code and audited ``oob.destination.register`` with ``actor``. For a user
        adding a destination themselves, :meth:`begin_destination` instead."""
        if not isinstance(destination, str) or not destination.strip() or len(destination) > 320:
            raise MalformedInput("a destination is a phone number or an e-mail address")
        key = keyed_destination_key(self.keys, channel, destination)
        record = {"channel": channel.value, "destination": destination.strip()}

        def attempt(now: datetime) -> Step[None]:
            read = self._read(principal, [(fc.OOB_DESTINATION, key)])
            event = AuditEvent.make(
                now, "oob.destination.register", actor=actor, subject=principal.key,
                outcome="success", details={"channel": channel.value, "destination": key},
            )  # fmt: skip
            document = {**record, "verified_at": now.isoformat()}
            writes = [(fc.OOB_DESTINATION, key, document)]
            return read.changes(read.lockout.value, writes), [event], None

        self._run(attempt)

    def destinations(self, principal: Principal) -> tuple[VerifiedDestination, ...]:
        """The verified destinations of ``principal``."""
        return tuple(
            VerifiedDestination(
                item,
                Channel(str(found.value["channel"])),
                str(found.value["destination"]),
                str(found.value["verified_at"]),
            )
            for item, found in self.store.factor_states(principal, fc.OOB_DESTINATION)
        )
