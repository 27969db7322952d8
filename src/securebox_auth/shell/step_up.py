"""The step-up flow on a store: decide, challenge, prove, grant (with rotation), execute
(consuming the grant) -- each step one compare-and-swap commit with its audit events.

* :meth:`StepUpShell.start_step_up`: the engine decides on the operation; the flow is stored
  with the challenge (bound to the operation's digest).
* :meth:`StepUpShell.prove_step_up`: one factor, verified by its service's ``decide`` entry
  for the flow's digest; the pure flow checks the digest again; once the rule is satisfied
  the engine's :func:`~securebox_auth.policy.engine.complete_step_up` issues the grant and
  the session moves to a new identifier. The factor's state, the lockout, the flow and the
  session are **one** commit (ADR 0023).
* :meth:`StepUpShell.execute`: the engine decides once more and consumes the grant; the
  session and the flow (a tombstone) are committed together, so of concurrent executions of
  one flow exactly one consumes the grant.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from securebox_auth.audit import AuditEvent
from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import FlowError, FlowExpired, FlowOutOfOrder, NotAuthenticated
from securebox_auth.factors.cap_request import payee_reference
from securebox_auth.factors.certificate import CertChallenge
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import codec
from securebox_auth.flows.step_up import (
    AskFactor,
    FactorProved,
    GrantRecorded,
    OperationDone,
    RecordStepUp,
    Refused,
    StepUpAction,
    StepUpFlow,
    StepUpState,
    advance_step_up,
    start_step_up,
)
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Allow, Decision
from securebox_auth.policy.engine import complete_step_up
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.session_ids import session_ref
from securebox_auth.shell import records
from securebox_auth.shell.answers import (
    Answer,
    certificate_purpose,
    claimed_method,
    decide_answer,
)
from securebox_auth.shell.flow_base import Pending, ShellBase
from securebox_auth.shell.retry import retrying
from securebox_auth.shell.spent_grants import decide_unspent
from securebox_auth.shell.step_up_page import StepUpPage
from securebox_auth.stores.protocols import Change, PutSession, RotateSession

__all__ = ["StepUpPage", "StepUpShell"]

KIND = codec.STEP_UP_FLOW


class StepUpShell(ShellBase):
    """The step-up half of :class:`~securebox_auth.shell.securebox.Securebox`."""

    def start_step_up(self, session_id: str, request: OperationRequest) -> StepUpPage:
        """Ask the engine about ``request`` in the session."""

        def attempt() -> StepUpPage:
            found = self.live_session(session_id)
            session = found.value
            principal = session.principal
            step = start_step_up(
                self.policy,
                session,
                request,
                session_ref=session_ref(session_id),
                now=self.clock.now(),
                lockout=self.store.get_lockout(principal).value,
                enrolled=self.enrolled(principal),
            )
            flow = step.flow
            decision = _decision(step.action)
            changes: list[Change] = []
            if step.session is not None and step.session != session:
                changes.append(PutSession(session_id, found.version, step.session))
            if not flow.finished:
                document = codec.step_up_flow_to_dict(flow)
                changes.append(records.put(principal, KIND, flow.id, 0, document))
            events = [self._step_event(flow, "step_up.decision", decision)]
            self.store.commit(changes, events)
            page_handle = records.handle(KIND, principal, flow.id)
            return StepUpPage(page_handle, flow, step.action, session_id, decision=decision)

        return retrying(attempt)

    def send_step_up_code(
        self, session_id: str, handle: str, *, channel: Channel, destination: str
    ) -> str:
        """Send a one-time code bound to the operation's digest; the message shows what
        the challenge displays (amount and payee). Returns the challenge id. ``destination``
        names one of the principal's verified destinations on ``channel`` (its key, or its
        value); any other is refused with :class:`~securebox_auth.errors.UnknownDestination`."""
        flow, _ = self._load_step_up(session_id, handle)
        challenge = flow.challenge
        if flow.state is not StepUpState.CHALLENGED or challenge is None:
            raise FlowOutOfOrder(f"no code is expected now (flow is {flow.state})")
        if channel.method.name not in challenge.methods:
            raise FlowOutOfOrder(f"{channel.value} codes are not accepted for this operation")
        return self._send(
            flow.principal,
            channel,
            destination,
            "step_up",
            records.flow_ref(flow.id),
            flow.digest,
            challenge.display,
        )

    def step_up_passkey_options(self, session_id: str, handle: str) -> tuple[dict[str, Any], str]:
        """Passkey options whose challenge is bound to the operation's digest, and the
        ceremony id."""
        flow = self._challenged(session_id, handle, "passkey_uv")
        return self._passkey_options(flow.principal, "step_up", flow.request.operation, flow.digest)

    def step_up_certificate_challenge(self, session_id: str, handle: str) -> CertChallenge:
        """A certificate challenge bound to the operation and its digest."""
        flow = self._challenged(session_id, handle, "certificate", "smartcard_pin")
        purpose = certificate_purpose("step_up", flow.request)
        return self._cert_challenge(flow.principal, purpose, flow.digest)

    def step_up_cap_challenge(
        self, session_id: str, handle: str, card_id: str, mode: CapMode = CapMode.SIGN
    ) -> tuple[str, tuple[str, ...]]:
        """A single-use CAP challenge for the card ``card_id``, bound to the operation's
        digest (its 8 digits derive from the digest, ``factors/cap_linking.py``): its id
        (answer with ``CapAnswer(card_id, code, challenge_id, mode=mode)``) and what the
        user types into the reader in ``mode``, in order: Sign the digits then the amount
        in minor units, TDS the payee reference, the amount in minor units, then the digits,
        Respond the digits alone (the mode for an operation without an amount: a payee,
        a batch). :class:`~securebox_auth.errors.FlowOutOfOrder` for Identify, or Sign/TDS
        when the operation has no payment."""
        flow = self._challenged(session_id, handle, "cap_sign", "cap_respond")
        payment, digest = flow.request.payment, flow.digest
        if mode is CapMode.IDENTIFY:
            raise FlowOutOfOrder("an Identify code answers no challenge")
        if mode is not CapMode.RESPOND and (payment is None or digest is None):
            raise FlowOutOfOrder(
                f"CAP {mode.value} types an amount: this operation has none, use Respond"
            )
        cap = self.factors.cap
        operation = flow.request.operation
        if digest is None:
            plain = cap.issue_challenge(flow.principal, card_id, purpose=operation)
            return plain.challenge_id, (plain.value,)
        challenge = cap.issue_linked_challenge(
            flow.principal, card_id, digest=digest, purpose=operation
        )
        value = challenge.value
        if mode is CapMode.RESPOND or payment is None:
            return challenge.challenge_id, (value,)
        minor = str(payment.amount.minor)
        if mode is CapMode.SIGN:
            return challenge.challenge_id, (value, minor)
        return challenge.challenge_id, (payee_reference(payment.payee), minor, value)

    def _challenged(self, session_id: str, handle: str, *methods: str) -> StepUpFlow:
        flow, _ = self._load_step_up(session_id, handle)
        challenge = flow.challenge
        if flow.state is not StepUpState.CHALLENGED or challenge is None:
            raise FlowOutOfOrder(f"no factor is expected now (flow is {flow.state})")
        if not any(m in challenge.methods for m in methods):
            raise FlowOutOfOrder(f"{methods[0]} is not accepted for this operation")
        return flow

    def prove_step_up(self, session_id: str, handle: str, answer: Answer) -> StepUpPage:
        """Verify one factor for the flow's challenge; record the step-up once the rule is
        satisfied (the session gets a new identifier: use ``page.session_id``). The factor's
        state, the lockout, the flow, the session and their audit events are one commit
        (ADR 0023)."""
        read = self._load_step_up(session_id, handle)
        flow = read[0]
        challenge = flow.challenge
        method = claimed_method(answer, linked=flow.digest is not None)
        if flow.state is not StepUpState.CHALLENGED or challenge is None:
            raise FlowOutOfOrder(f"no factor is expected now (flow is {flow.state})")
        if method not in challenge.methods:
            raise FlowOutOfOrder(f"{method} is not offered for this operation")
        decide = decide_answer(
            self,
            flow.principal,
            answer,
            purpose="step_up",
            reference=records.flow_ref(flow.id),
            digest=flow.digest,
            request=flow.request,
        )
        first = [read]  # the first attempt commits against this read (a stale one conflicts)

        def attempt() -> StepUpPage:
            # A lost race reads and decides the whole step again (never two accepts).
            now = self.clock.now()
            changes, events, verified = decide(now)
            pending = (changes, events)
            current, version = (
                first.pop() if first else self._load_step_up(session_id, handle, pending)
            )
            asked = current.challenge
            if current.state is not StepUpState.CHALLENGED or asked is None:
                self._settle(pending)  # moved on meanwhile: the verification still counts
                raise FlowOutOfOrder(f"no factor is expected now (flow is {current.state})")
            if not verified.ok or verified.method not in asked.methods:
                if verified.blocked:
                    why = "step_up.blocked"
                    self._bury(current.principal, KIND, current.id, version, why, pending)
                    ended = replace(current, state=StepUpState.FAILED)
                    return StepUpPage(handle, ended, AskFactor((), ()), session_id, rejected=True)
                self._settle(pending)
                ask = AskFactor(asked.methods, asked.display)
                return StepUpPage(handle, current, ask, session_id, rejected=True)
            proved = FactorProved(verified.method, verified.digest)
            try:
                return self._proved(
                    session_id, handle, current, version, proved, now, pending, verified.lockout
                )
            except (FlowError, NotAuthenticated):  # the verification still counts
                self._settle(pending)
                raise

        return retrying(attempt)

    def execute(self, session_id: str, handle: str) -> StepUpPage:
        """Run the operation: the engine decides at this instant and consumes the grant. On
        ``page.executed`` the portal performs the operation (exactly once)."""

        def attempt() -> StepUpPage:
            flow, version = self._load_step_up(session_id, handle)
            found = self.live_session(session_id)
            now = self.clock.now()
            principal = flow.principal
            # a single-use grant an assertion already spent is left out; one this
            # decision consumes is recorded spent in the same commit (ADR 0064)
            outcome, spent = decide_unspent(
                self.store,
                self.policy,
                found.value,
                flow.request,
                now=now,
                lockout=self.store.get_lockout(principal).value,
                path="execute",
            )
            step = advance_step_up(self.policy, flow, OperationDone(outcome.decision), now=now)
            changes: list[Change] = [records.put(principal, KIND, flow.id, version, None)]
            changes += spent
            if outcome.session != found.value:
                changes.append(PutSession(session_id, found.version, outcome.session))
            events = [self._step_event(step.flow, "operation.decision", outcome.decision)]
            decision = outcome.decision
            if isinstance(decision, Allow) and decision.consumed is not None:
                events.append(self._grant_event(step.flow, "grant.consume", decision))
            self.store.commit(changes, events)
            return StepUpPage(handle, step.flow, step.action, session_id, decision=decision)

        return retrying(attempt)

    def step_up_flow(self, session_id: str, handle: str) -> StepUpFlow:
        return self._load_step_up(session_id, handle)[0]

    # -- internals ----------------------------------------------------------------------------

    def _proved(
        self,
        session_id: str,
        handle: str,
        flow: StepUpFlow,
        version: int,
        event: FactorProved,
        now: datetime,
        pending: Pending,
        lockout: LockoutState | None = None,
    ) -> StepUpPage:
        found = self.live_session(session_id)
        step = advance_step_up(self.policy, flow, event, now=now, session=found.value)
        principal = flow.principal
        action = step.action
        changes: list[Change] = list(pending[0])
        events: list[AuditEvent] = list(pending[1])
        if not isinstance(action, RecordStepUp):
            document = codec.step_up_flow_to_dict(step.flow)
            changes.append(records.put(principal, KIND, flow.id, version, document))
            self.store.commit(changes, events)
            return StepUpPage(handle, step.flow, action, session_id)
        outcome = complete_step_up(
            self.policy,
            found.value,
            action.challenge,
            principal=principal,
            methods=action.methods,
            now=now,
            lockout=lockout if lockout is not None else self._lockout_after(principal, changes),
            grant_id=grant_id_of(flow.id),
        )
        recorded = advance_step_up(self.policy, step.flow, GrantRecorded(outcome.decision), now=now)
        events.append(self._step_event(recorded.flow, "step_up.decision", outcome.decision))
        new_id = session_id
        if outcome.session.proofs != found.value.proofs:
            rotate = RotateSession(session_id, found.version, outcome.session)
            changes.append(rotate)
            new_id = rotate.new_session_id
            events.append(self._rotated(principal, session_id, new_id))
        elif outcome.session != found.value:
            changes.append(PutSession(session_id, found.version, outcome.session))
        after = replace(recorded.flow, session_ref=session_ref(new_id))
        stored = None if after.finished else codec.step_up_flow_to_dict(after)
        changes.append(records.put(principal, KIND, flow.id, version, stored))
        if isinstance(outcome.decision, Allow) and outcome.session.grants != found.value.grants:
            events.append(self._grant_event(after, "grant.issue", outcome.decision))
        self.store.commit(changes, events)
        return StepUpPage(handle, after, recorded.action, new_id, decision=outcome.decision)

    def _load_step_up(
        self, session_id: str, handle: str, pending: Pending = ((), ())
    ) -> tuple[StepUpFlow, int]:
        """The live flow of the session and its version; otherwise the ``pending``
        verification of the step is committed (with the expired flow's tombstone) before
        :class:`~securebox_auth.errors.FlowExpired` or ``FlowOutOfOrder``."""
        principal, flow_id = records.parse_handle(handle, KIND, self.codes.parse_principal)
        found = self.store.get_factor_state(principal, KIND, flow_id)
        if found is None:
            self._settle(pending)
            raise FlowExpired("no such flow (finished, expired or unknown): start again")
        flow = codec.step_up_flow_from_dict(found.value, principal)
        if flow.session_ref != session_ref(session_id):
            self._settle(pending)
            raise FlowOutOfOrder("this step-up belongs to another session")
        if flow.expired(self.clock.now()) and flow.state is not StepUpState.READY:
            self._bury(principal, KIND, flow_id, found.version, "step_up.expired", pending)
            raise FlowExpired("the step-up took too long: start again")
        return flow, found.version

    def _step_event(self, flow: StepUpFlow, action: str, decision: Decision | None) -> AuditEvent:
        details = {
            "flow": records.flow_ref(flow.id),
            "operation": flow.request.operation,
            "state": flow.state.value,
        }
        if decision is not None:
            details["rules"] = ",".join(decision.rules)
        if flow.digest is not None:
            details["digest"] = flow.digest
        who = flow.principal.key
        outcome = decision.kind if decision is not None else flow.state.value
        return AuditEvent.make(
            self.clock.now(), action, actor=who, subject=who, outcome=outcome, details=details
        )

    def _grant_event(self, flow: StepUpFlow, action: str, decision: Allow) -> AuditEvent:
        who = flow.principal.key
        details = {"operation": flow.request.operation, "flow": records.flow_ref(flow.id)}
        if flow.digest is not None:
            details["digest"] = flow.digest
        if decision.consumed is not None:
            details["methods"] = ",".join(decision.consumed.methods)
        return AuditEvent.make(
            self.clock.now(), action, actor=who, subject=who, outcome="success", details=details
        )

    def _rotated(self, principal: Principal, old: str, new: str) -> AuditEvent:
        who = principal.key
        details = {"from": session_ref(old), "to": session_ref(new), "reason": "step_up"}
        return AuditEvent.make(
            self.clock.now(),
            "session.rotate",
            actor=who,
            subject=who,
            outcome="success",
            details=details,
        )


def grant_id_of(flow_id: str) -> str:
    """The identifier of the grant a step-up flow records: derived from the flow's random
    identifier (a handle of the flow, which the grant's assertions must not reveal)."""
    return hashlib.sha256(f"grant\n{flow_id}".encode()).hexdigest()[:32]


def _decision(action: StepUpAction) -> Decision | None:
    if isinstance(action, AskFactor):
        return action.decision
    if isinstance(action, Refused):
        return action.decision
    return None
