"""What the flow shells share: the services, the enrolled methods, sending a one-time code,
burying a flow, and committing a step's verification when its flow cannot move."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    NotAuthenticated,
    NotPermitted,
    UnknownDestination,
)
from securebox_auth.factors.certificate import CertChallenge
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session import expiry
from securebox_auth.policy.session_ids import is_session_id
from securebox_auth.shell import records
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import Change, PutLockout
from securebox_auth.stores.session_reads import read_session

if TYPE_CHECKING:
    from securebox_auth.clock import Clock
    from securebox_auth.policy.model import Policy
    from securebox_auth.policy.session import Session
    from securebox_auth.shell.answers import CertificateSettings
    from securebox_auth.shell.code import ConfidentialCodeService
    from securebox_auth.shell.factors import FactorService
    from securebox_auth.shell.gateways import Gateway
    from securebox_auth.shell.sessions import SessionService
    from securebox_auth.stores.protocols import AuthStore, Versioned

__all__ = ["Pending", "ShellBase"]

#: The changes and audit events of a step's verification, not committed yet: the flow
#: commits them with its own (one commit per user step, ADR 0023).
Pending: TypeAlias = tuple[Sequence[Change], Sequence[AuditEvent]]

_CAP_METHODS = ("cap_identify", "cap_respond", "cap_sign")
#: What :meth:`ShellBase.enrolled` reads, in one statement.
_CREDENTIAL_KINDS = (
    fc.TOTP, fc.RECOVERY, fc.PASSKEYS, fc.CAP_CARD, fc.CERTIFICATE, fc.OOB_DESTINATION
)  # fmt: skip


class ShellBase:
    policy: Policy
    store: AuthStore
    clock: Clock
    codes: ConfidentialCodeService
    factors: FactorService
    sessions: SessionService
    gateways: dict[str, Gateway]
    issuer: str
    certificates: CertificateSettings | None

    def live_session(self, session_id: str) -> Versioned[Session]:
        """The live session (not timed out, not ended by ``end_all``), else
        :class:`~securebox_auth.errors.NotAuthenticated`. Does not count as activity."""
        kind, item = records.WATERMARK
        read = (
            read_session(self.store, session_id, kind=kind, item=item)
            if is_session_id(session_id)
            else None
        )
        if read is None or read.session is None:
            raise NotAuthenticated("no live session: log in again")
        found, session = read.session, read.session.value
        cut = records.watermark_of(read.state)
        now = self.clock.now()
        ended = cut is not None and session.auth_time <= cut
        if ended or expiry(session, self.policy.session, now) is not None:
            raise NotAuthenticated("no live session: log in again")
        return found

    def enrolled(self, principal: Principal) -> frozenset[str]:
        """The methods ``principal`` can use: the code (every account has one), a
        confirmed TOTP, recovery codes, passkeys, CAP cards, a certificate, and one-time
        codes on the channels this deployment has a gateway for *and* the principal has a
        verified destination on (codes are sent nowhere else). Used by the flows only
        after a first factor was verified (the first offer never depends on the user)."""
        found: set[str] = {"confidential_code"}
        states = self.store.factor_states_of(principal, _CREDENTIAL_KINDS)

        def default(kind: str) -> Mapping[str, object] | None:
            return next((v.value for item, v in states[kind] if item == "default"), None)

        totp = default(fc.TOTP)
        if totp is not None and totp.get("confirmed_at") is not None:
            found.add("totp")
        if default(fc.RECOVERY) is not None:
            found.add("recovery_code")
        if default(fc.PASSKEYS) is not None:
            found.update(("passkey_uv", "passkey_no_uv"))
        if states[fc.CAP_CARD]:
            found.update(_CAP_METHODS)
        if default(fc.CERTIFICATE) is not None:
            found.update(("certificate", "smartcard_pin"))
        for _, destination in states[fc.OOB_DESTINATION]:  # verified destinations only
            channel = Channel(str(destination.value["channel"]))
            if channel.value in self.gateways:
                found.add(channel.method.name)
        return frozenset(found)

    def _verified_destination(self, principal: Principal, channel: Channel, wanted: str) -> str:
        """The verified destination of ``principal`` on ``channel`` that ``wanted`` names
        (its key, or its value up to spaces and case); otherwise
        :class:`~securebox_auth.errors.UnknownDestination`, saying nothing of the others."""
        if not isinstance(wanted, str) or not wanted or len(wanted) > 320:
            raise UnknownDestination("no verified destination of this account matches")
        plain = "".join(wanted.split()).lower().encode()
        for known in self.factors.oob.destinations(principal):
            if known.channel is not channel:
                continue
            same = "".join(known.destination.split()).lower().encode()
            if hmac.compare_digest(known.key.encode(), wanted.encode()) or hmac.compare_digest(
                same, plain
            ):
                return known.destination
        raise UnknownDestination("no verified destination of this account matches")

    def _send(
        self,
        principal: Principal,
        channel: Channel,
        destination: str,
        purpose: str,
        reference: str,
        digest: str | None,
        display: tuple[tuple[str, str], ...],
    ) -> str:
        gateway = self.gateways.get(channel.value)
        if gateway is None:
            raise ConfigurationError(f"no gateway for {channel.value}: from_policy(gateways=...)")
        destination = self._verified_destination(principal, channel, destination)
        issued = self.factors.issue_oob(
            principal,
            channel=channel,
            destination=destination,
            purpose=purpose,
            reference=reference,
            gateway=gateway,
            digest=digest,
            display=display,
        )
        if not issued.ok or issued.challenge is None:
            raise NotPermitted(f"no code sent now: {issued.reason}")
        return issued.challenge.id

    def _passkey_options(
        self, principal: Principal, path: str, operation: str | None, digest: str | None
    ) -> tuple[dict[str, Any], str]:
        options, ceremony = self.factors.begin_passkey_authentication(
            principal, path=path, operation=operation, digest=digest
        )
        return options, ceremony.id

    def _cert_challenge(
        self, principal: Principal, purpose: str, digest: str | None
    ) -> CertChallenge:
        return self.factors.issue_cert_challenge(
            principal, purpose=purpose, audience=self.issuer, digest=digest
        )

    def _bury(
        self,
        principal: Principal,
        kind: str,
        flow_id: str,
        version: int,
        why: str,
        pending: Pending = ((), ()),
    ) -> None:
        """Make a flow a tombstone (finished or expired), with the ``pending`` changes and
        events of the step's verification in the same commit. A lost race means another
        request already moved the flow, which is fine on its own; with a pending
        verification it raises :class:`~securebox_auth.errors.ConcurrentUpdate`, so that
        the step is read and decided again (a refusal is always counted)."""
        who = principal.key
        event = AuditEvent.make(
            self.clock.now(),
            why,
            actor=who,
            subject=who,
            outcome="ended",
            details={"flow": records.flow_ref(flow_id)},
        )
        changes, events = pending
        tombstone = records.put(principal, kind, flow_id, version, None)
        try:
            self.store.commit([*changes, tombstone], [*events, event])
        except ConcurrentUpdate:  # moved by another request: the flow is gone either way
            if changes or events:
                raise
            return

    def _settle(self, pending: Pending) -> None:
        """Commit the verification of a step whose flow cannot move (gone, expired, of
        another session): a refusal is counted and a one-time value consumed all the
        same, as if the factor's service had been called on its own."""
        changes, events = pending
        if changes or events:
            self.store.commit(list(changes), list(events))

    def _lockout_after(self, principal: Principal, changes: Sequence[Change]) -> LockoutState:
        """The principal's lockout state once ``changes`` are committed."""
        for change in reversed(changes):
            if isinstance(change, PutLockout) and change.principal == principal:
                return change.state
        return self.store.get_lockout(principal).value
