"""Running scenarios: replay a timeline through the pure engine and compare.

:func:`run_scenario` keeps the state a shell would keep (sessions, the renewal clock per
principal and channel, lockout states, enrolled methods, pending challenges), calls the
engine for each step of a :class:`~securebox_auth.policy.scenario.Scenario`, and returns one
:class:`StepResult` per step, with the engine's explanation of every mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from securebox_auth.errors import ScenarioError
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutState,
    block_status,
    record_failure,
    record_success,
    unblock,
)
from securebox_auth.policy.decision import Allow, Challenge, Decision, Deny, StepUpRequired
from securebox_auth.policy.engine import complete_step_up, decide_login, decide_operation
from securebox_auth.policy.model import Policy
from securebox_auth.policy.scenario import Scenario, Step
from securebox_auth.policy.session import Session

__all__ = ["ScenarioResult", "StepResult", "run_scenario", "run_steps"]


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(path, message)


#: The element each method proves (ADR 0008). A scenario's ``failure`` step is a failed
#: confidential code: its series ends only with a success of a method using the code.
_ELEMENTS: Final = {
    "confidential_code": Element.CODE,
    "cap_identify": Element.CAP,
    "cap_respond": Element.CAP,
    "cap_sign": Element.CAP,
    "certificate": Element.CERTIFICATE,
    "smartcard_pin": Element.CERTIFICATE,
    "totp": Element.TOTP,
    "passkey_uv": Element.PASSKEY,
    "passkey_no_uv": Element.PASSKEY,
    "sms_otp": Element.OOB,
    "email_otp": Element.OOB,
    "recovery_code": Element.RECOVERY,
}


@dataclass(frozen=True, slots=True)
class StepResult:
    step: Step
    #: ``allow`` / ``step_up`` / ``deny``, or a lockout state for failures; None otherwise.
    actual: str | None
    reason: str | None
    decision: Decision | None
    explanation: str
    mismatches: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def report(self) -> str:
        """The mismatch, what was expected and the engine's explanation."""
        s = self.step
        lines = [f"step {s.index} (day {s.day}, {s.at.isoformat()}): {s.describe()}"]
        if s.checks or s.note:
            lines.append(f"  checks: {s.checks or s.note}")
        lines += [f"  mismatch: {m}" for m in self.mismatches]
        lines.append("  explanation:")
        lines += [f"    {line}" for line in self.explanation.splitlines()]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    steps: tuple[StepResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.steps)

    @property
    def failures(self) -> tuple[StepResult, ...]:
        return tuple(r for r in self.steps if not r.passed)


@dataclass
class _World:
    """What a shell would store, for one scenario run."""

    policy: Policy
    sessions: dict[Principal, Session] = field(default_factory=dict)
    clocks: dict[tuple[Principal, str], datetime] = field(default_factory=dict)
    lockouts: dict[Principal, LockoutState] = field(default_factory=dict)
    enrolled: dict[Principal, set[str]] = field(default_factory=dict)
    challenges: dict[Principal, Challenge] = field(default_factory=dict)

    def lockout(self, who: Principal) -> LockoutState:
        return self.lockouts.get(who, LockoutState())

    def succeeded(self, who: Principal, decision: Decision, methods: Iterable[str]) -> None:
        if not (isinstance(decision, Deny) and decision.reason == "locked"):
            state = self.lockout(who)
            for name in methods:
                state = record_success(state, element=_ELEMENTS.get(name, Element.CODE))
            self.lockouts[who] = state


def _check(
    step: Step,
    actual: str | None,
    reason: str | None,
    decision: Decision | None,
    acr: str | None = None,
) -> tuple[str, ...]:
    problems = []
    if step.expect is not None and actual != step.expect:
        got = f"{actual} ({reason})" if reason else str(actual)
        problems.append(f"expected {step.expect}, got {got}")
    if step.reason is not None and reason != step.reason:
        problems.append(f"expected reason {step.reason}, got {reason or '(none)'}")
    if step.rule is not None and (decision is None or step.rule not in decision.rules):
        fired = ", ".join(decision.rules) if decision is not None else "(none)"
        problems.append(f"expected rule {step.rule} to fire; fired: {fired}")
    if step.acr is not None and acr != step.acr:
        problems.append(f"expected acr {step.acr}, got {acr or '(none)'}")
    return tuple(problems)


def _decided(step: Step, decision: Decision, acr: str | None = None) -> StepResult:
    reason = None if decision.kind == "allow" else str(decision.reason)
    explanation = decision.explain()
    header = decision.www_authenticate()
    if header:
        explanation += f"\n  WWW-Authenticate: {header}"
    return StepResult(
        step,
        decision.kind,
        reason,
        decision,
        explanation,
        _check(step, decision.kind, reason, decision, acr),
    )


def _require_enrolled(step: Step, enrolled: set[str] | None) -> None:
    if enrolled is not None and not set(step.methods) <= enrolled:
        missing = ", ".join(sorted(set(step.methods) - enrolled))
        raise _fail(f"step[{step.index}].methods", f"{step.principal} has not enrolled {missing}")


def _on_enrol(world: _World, step: Step) -> StepResult:
    world.enrolled.setdefault(step.principal, set()).update(step.methods)
    return StepResult(
        step, None, None, None, f"{step.principal} enrolled {', '.join(step.methods)}"
    )


def _on_wait(world: _World, step: Step) -> StepResult:
    return StepResult(step, None, None, None, f"time passes until {step.at.isoformat()}")


def _on_logout(world: _World, step: Step) -> StepResult:
    world.sessions.pop(step.principal, None)
    return StepResult(step, None, None, None, f"{step.principal} logged out")


def _on_unblock(world: _World, step: Step) -> StepResult:
    world.lockouts[step.principal] = unblock(world.lockout(step.principal))
    return StepResult(step, None, None, None, f"an administrator unblocked {step.principal}")


def _on_failure(world: _World, step: Step) -> StepResult:
    rules = world.policy.lockout
    state, alert = record_failure(
        world.lockout(step.principal), step.at, rules, element=Element.CODE
    )
    world.lockouts[step.principal] = state
    actual = {
        BlockStatus.OPEN: "open",
        BlockStatus.TEMPORARY: "blocked",
        BlockStatus.PERMANENT: "permanently_blocked",
    }[block_status(state, step.at)]
    count = state.failures if actual == "open" else rules.max_failures
    text = (
        f"failed attempt on the {step.path} path: {count} consecutive failure(s) of "
        f"{rules.max_failures} allowed, counted across every entry path "
        f"[PSD2 RTS art. 4(3)(b)]; status {actual}; alert {alert.value}"
    )
    problems = list(_check(step, actual, None, None))
    if step.alert is not None and alert.value != step.alert:
        problems.append(f"expected alert {step.alert}, got {alert.value}")
    return StepResult(step, actual, None, None, text, tuple(problems))


def _on_login(world: _World, step: Step) -> StepResult:
    who = step.principal
    enrolled = world.enrolled.get(who)
    _require_enrolled(step, enrolled)
    outcome = decide_login(
        world.policy,
        principal=who,
        channel=step.channel,
        methods=step.methods,
        last_sca=world.clocks.get((who, step.channel)),
        now=step.at,
        lockout=world.lockout(who),
        enrolled=enrolled,
    )
    world.succeeded(who, outcome.decision, step.methods)
    if outcome.session is not None:
        world.sessions[who] = outcome.session
    if outcome.last_sca is not None:
        world.clocks[(who, step.channel)] = outcome.last_sca
    if isinstance(outcome.decision, StepUpRequired):
        world.challenges[who] = outcome.decision.challenge
    acr = outcome.decision.acr if isinstance(outcome.decision, Allow) else None
    return _decided(step, outcome.decision, acr)


def _on_operation(world: _World, step: Step) -> StepResult:
    who = step.principal
    assert step.request is not None
    session = world.sessions.get(who)
    if session is None:
        problems = _check(step, "deny", "no_session", None)
        return StepResult(step, "deny", "no_session", None, f"{who} has no session", problems)
    result = decide_operation(
        world.policy,
        session,
        step.request,
        now=step.at,
        lockout=world.lockout(who),
        enrolled=world.enrolled.get(who),
    )
    world.sessions[who] = result.session
    if isinstance(result.decision, StepUpRequired):
        world.challenges[who] = result.decision.challenge
    if isinstance(result.decision, Deny) and result.decision.reauthenticate:
        world.sessions.pop(who, None)
    return _decided(step, result.decision)


def _on_step_up(world: _World, step: Step) -> StepResult:
    who = step.principal
    owner = step.session_of or who
    session = world.sessions.get(owner)
    challenge = world.challenges.get(owner)
    if session is None or challenge is None or challenge.operation is None:
        raise _fail(
            f"step[{step.index}]",
            f"no pending operation challenge for {owner} (a login step-up is a login event)",
        )
    _require_enrolled(step, world.enrolled.get(who))
    result = complete_step_up(
        world.policy,
        session,
        challenge,
        principal=who,
        methods=step.methods,
        now=step.at,
        lockout=world.lockout(who),
    )
    world.sessions[owner] = result.session
    if result.decision.kind == "allow":
        world.succeeded(who, result.decision, step.methods)
        world.challenges.pop(owner, None)
    if isinstance(result.decision, Deny) and result.decision.reauthenticate:
        world.sessions.pop(owner, None)
    return _decided(step, result.decision)


_HANDLERS: Final[dict[str, Callable[[_World, Step], StepResult]]] = {
    "enrol": _on_enrol,
    "wait": _on_wait,
    "logout": _on_logout,
    "unblock": _on_unblock,
    "failure": _on_failure,
    "login": _on_login,
    "operation": _on_operation,
    "step_up": _on_step_up,
}


def _run_step(world: _World, step: Step) -> StepResult:
    return _HANDLERS[step.event](world, step)


def run_scenario(policy: Policy, scenario: Scenario) -> ScenarioResult:
    """Replay ``scenario`` against ``policy``; pure apart from the in-memory state it keeps."""
    world = _World(policy)
    return ScenarioResult(scenario, tuple(_run_step(world, step) for step in scenario.steps))


def run_steps(policy: Policy, steps: Iterable[Step]) -> tuple[StepResult, ...]:
    """Replay steps without a scenario around them (``securebox policy explain``)."""
    world = _World(policy)
    return tuple(_run_step(world, step) for step in steps)
