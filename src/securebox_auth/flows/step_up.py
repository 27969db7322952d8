"""The step-up flow, sans-IO: an operation, a challenge bound to its digest, a single-use
grant, its consumption.

operation -> decision (:func:`~securebox_auth.policy.engine.decide_operation`) -> challenge
(the engine's, bound to the operation's digest) -> factors proved **for that digest** ->
record the step-up (the shell calls ``SessionService.step_up``: the engine issues the grant,
bound to the session, the principal and the digest; the session id rotates) -> the operation
executes, consuming the grant (``decide_operation`` again, under compare-and-swap).

The flow checks itself that every factor proved the digest of its challenge: a CAP Sign
code, a passkey or a certificate signature, an out-of-band code computed over another
amount or payee is refused here (:class:`~securebox_auth.errors.FlowOutOfOrder`), before
the engine is asked. A flow is bound to one session by :func:`~securebox_auth.policy.session_ids.
session_ref` (never the bearer identifier itself), and to the session's principal.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeAlias

from securebox_auth.clock import require_aware
from securebox_auth.errors import FlowExpired, FlowOutOfOrder, MalformedInput
from securebox_auth.factors.methods import METHODS, categories_from_mask, category_mask
from securebox_auth.flows.login import new_flow_id
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Allow, Challenge, Decision, Deny, Reason, StepUpRequired
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import Linking, Policy
from securebox_auth.policy.session import Session

__all__ = [
    "AskFactor",
    "Execute",
    "FactorProved",
    "GrantRecorded",
    "OperationDone",
    "RecordStepUp",
    "Refused",
    "StepUpAction",
    "StepUpEvent",
    "StepUpFlow",
    "StepUpState",
    "StepUpStep",
    "advance_step_up",
    "start_step_up",
]


class StepUpState(enum.StrEnum):
    #: The operation may run now (no step-up needed, or the grant was issued).
    READY = "ready"
    #: Waiting for factors proving the challenge.
    CHALLENGED = "challenged"
    #: Enough factors: the shell records the step-up (grant) with the session.
    PROVEN = "proven"
    #: The operation ran (a single-use grant was consumed).
    CONSUMED = "consumed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StepUpFlow:
    """One sensitive operation in progress. ``challenge`` is the engine's (``None`` when no
    step-up was needed); ``digest`` the operation's dynamic-linking digest."""

    id: str = field(repr=False)
    principal: Principal
    session_ref: str
    request: OperationRequest
    created_at: datetime
    expires_at: datetime
    state: StepUpState
    challenge: Challenge | None
    proven: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def digest(self) -> str | None:
        return None if self.challenge is None else self.challenge.digest

    @property
    def finished(self) -> bool:
        return self.state in (StepUpState.CONSUMED, StepUpState.FAILED)

    def expired(self, now: datetime) -> bool:
        return require_aware(now) >= self.expires_at

    def explain(self) -> str:
        lines = [f"step-up for {self.request.operation} by {self.principal.key}: {self.state}"]
        if self.challenge is not None:
            if self.digest is not None:
                lines.append(f"  bound to digest {self.digest}")
            shown = "; ".join(f"{k} {v}" for k, v in self.challenge.display)
            if shown:
                lines.append(f"  show the user: {shown}")
            if self.state is StepUpState.CHALLENGED:
                lines.append(f"  next: one of {', '.join(self.challenge.methods)}")
        if self.proven:
            lines.append(f"  proven: {', '.join(self.proven)}")
        lines.append(f"  expires at {self.expires_at.isoformat()}")
        lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class FactorProved:
    """The shell verified ``method`` for this flow's challenge; ``digest`` is the digest the
    factor's code or signature was computed over (``FactorResult.digest``)."""

    method: str
    digest: str | None


@dataclass(frozen=True, slots=True)
class GrantRecorded:
    """The shell recorded the step-up: the engine's ``decision`` (``Allow`` with a grant in
    the session, or a denial)."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class OperationDone:
    """The operation ran: ``decision`` is the engine's on the execution (``Allow`` with
    ``consumed`` set for a single-use operation)."""

    decision: Decision


StepUpEvent: TypeAlias = FactorProved | GrantRecorded | OperationDone


@dataclass(frozen=True, slots=True)
class Execute:
    """Run the operation now (ask the engine once more: it consumes the grant)."""


@dataclass(frozen=True, slots=True)
class RecordStepUp:
    """Record that ``methods`` were proved for ``challenge`` (``SessionService.step_up``)."""

    challenge: Challenge
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AskFactor:
    """Ask for one of ``methods``, showing ``display``; ``decision`` is the engine's."""

    methods: tuple[str, ...]
    display: tuple[tuple[str, str], ...]
    decision: StepUpRequired | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """No: ``decision`` says why."""

    decision: Decision


StepUpAction: TypeAlias = Execute | RecordStepUp | AskFactor | Refused


@dataclass(frozen=True, slots=True)
class StepUpStep:
    flow: StepUpFlow
    action: StepUpAction
    #: The session after the engine's decision (touched, stale grants dropped): to store.
    session: Session | None = None


def start_step_up(
    policy: Policy,
    session: Session,
    request: OperationRequest,
    *,
    session_ref: str,
    now: datetime,
    lockout: LockoutState | None = None,
    enrolled: Collection[str] | None = None,
    flow_id: str | None = None,
) -> StepUpStep:
    """Ask the engine about ``request`` in ``session``. A single-use operation whose grant
    already exists is *not* consumed here: the flow is READY and :class:`Execute` asks the
    engine again (the only place a grant is consumed)."""
    now = require_aware(now)
    rule = policy.operation(request.operation)
    lifetime = rule.max_age if rule is not None and rule.sensitive else timedelta(minutes=5)
    outcome = decide_operation(
        policy, session, request, now=now, lockout=lockout, enrolled=enrolled
    )
    decision = outcome.decision
    base = StepUpFlow(
        id=flow_id or new_flow_id(),
        principal=session.principal,
        session_ref=session_ref,
        request=request,
        created_at=now,
        expires_at=now + max(lifetime, timedelta(seconds=30)),
        state=StepUpState.FAILED,
        challenge=None,
        notes=(decision.headline(),),
    )
    if isinstance(decision, Allow):
        # Ready; a consumed grant is given back: Execute consumes it under CAS.
        return StepUpStep(replace(base, state=StepUpState.READY), Execute(), None)
    if isinstance(decision, StepUpRequired):
        challenged = replace(base, state=StepUpState.CHALLENGED, challenge=decision.challenge)
        ask = AskFactor(decision.methods, decision.challenge.display, decision)
        return StepUpStep(challenged, ask, outcome.session)
    return StepUpStep(base, Refused(decision), outcome.session)


#: The engine's answers meaning "more proofs are needed" (anything else ends the wait).
_NOT_YET = frozenset({Reason.STEP_UP_INSUFFICIENT, Reason.LINKING_METHOD_MISSING})


def _enough(
    policy: Policy,
    flow: StepUpFlow,
    proven: tuple[str, ...],
    session: Session | None,
    now: datetime,
) -> bool:
    """Do the proofs complete the step-up? The engine's :func:`complete_step_up` decides
    (one rule): for an operation that asks for fresh proofs, the session's proofs still
    fresh for it count with the step-up's (a code login and a TOTP); a single-use
    operation, and so every linked one (RTS art. 5), counts only the step-up's own proofs,
    bound to the digest. A denial that more proofs cannot cure (idle session, lockout)
    ends the wait: recording the step-up then fails with the engine's reason.

    Without ``session`` only the step-up's own proofs count (the same rule as the
    engine's for single-use operations, stricter for the others)."""
    challenge = flow.challenge
    assert challenge is not None
    rule = policy.operation(flow.request.operation)
    if rule is None:
        return True  # the engine decides (and refuses)
    if session is None:
        if len(categories_from_mask(category_mask(proven))) < rule.min_categories:
            return False
        linked = challenge.linking is not Linking.NONE
        return not linked or any(METHODS[m].dynamic_linking for m in proven)
    decision = complete_step_up(
        policy, session, challenge, principal=flow.principal, methods=proven, now=now
    ).decision
    if isinstance(decision, StepUpRequired):
        return False
    return not (isinstance(decision, Deny) and decision.reason in _NOT_YET)


def advance_step_up(
    policy: Policy,
    flow: StepUpFlow,
    event: StepUpEvent,
    *,
    now: datetime,
    session: Session | None = None,
) -> StepUpStep:
    """Apply ``event``; raises :class:`FlowExpired` or :class:`FlowOutOfOrder`.

    ``session`` is the flow's session as stored now: give it with :class:`FactorProved`, so
    that the proofs it still holds fresh count as the engine counts them (see
    :func:`_enough`)."""
    now = require_aware(now)
    if flow.finished:
        raise FlowOutOfOrder(f"the flow is finished ({flow.state})")
    if flow.expired(now) and not isinstance(event, OperationDone):
        raise FlowExpired("the step-up took too long: start again")
    if isinstance(event, FactorProved):
        if flow.state is not StepUpState.CHALLENGED or flow.challenge is None:
            raise FlowOutOfOrder(f"no factor is expected now (flow is {flow.state})")
        if event.method not in METHODS:
            raise MalformedInput("unknown method")
        if event.method not in flow.challenge.methods:
            raise FlowOutOfOrder(f"{event.method} is not offered for this operation")
        digest = flow.challenge.digest
        linked = digest is not None and METHODS[event.method].dynamic_linking
        if linked and event.digest != digest:
            raise FlowOutOfOrder("the factor proved another amount, payee or batch")
        proven = tuple(dict.fromkeys((*flow.proven, event.method)))
        note = f"{event.method} verified" + (f" for digest {digest}" if digest else "")
        if _enough(policy, flow, proven, session, now):
            ready = replace(
                flow, state=StepUpState.PROVEN, proven=proven, notes=(*flow.notes, note)
            )
            return StepUpStep(ready, RecordStepUp(flow.challenge, proven))
        rest = tuple(m for m in flow.challenge.methods if m not in proven)
        waiting = replace(flow, proven=proven, notes=(*flow.notes, note))
        return StepUpStep(waiting, AskFactor(rest, flow.challenge.display))
    if isinstance(event, GrantRecorded):
        if flow.state is not StepUpState.PROVEN:
            raise FlowOutOfOrder(f"no step-up to record (flow is {flow.state})")
        line = event.decision.headline()
        if isinstance(event.decision, Allow):
            granted = replace(flow, state=StepUpState.READY, notes=(*flow.notes, line))
            return StepUpStep(granted, Execute())
        failed = replace(flow, state=StepUpState.FAILED, notes=(*flow.notes, line))
        return StepUpStep(failed, Refused(event.decision))
    if flow.state is not StepUpState.READY:
        raise FlowOutOfOrder(f"the operation cannot run yet (flow is {flow.state})")
    line = event.decision.headline()
    decision = event.decision
    if isinstance(decision, Allow):
        grant = decision.consumed
        if flow.digest is not None and (grant is None or grant.digest != flow.digest):
            raise FlowOutOfOrder("the grant consumed is not bound to this operation's digest")
        done = replace(flow, state=StepUpState.CONSUMED, notes=(*flow.notes, line))
        return StepUpStep(done, Execute())
    failed = replace(flow, state=StepUpState.FAILED, notes=(*flow.notes, line))
    return StepUpStep(failed, Refused(decision))
