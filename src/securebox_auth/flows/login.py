"""The login flow, sans-IO: events in, a new flow and one action out.

identify -> first factor -> (code change) -> policy decision -> (second factor) -> done.

A :class:`LoginFlow` is a frozen value: :func:`start_login` makes one, :func:`advance` takes
it and an event (a factor the shell verified, a code change it committed) and returns a
:class:`LoginStep`: the next flow and what the shell must do (:class:`Offer` the methods,
ask for a code change, open the session). Nothing here verifies a secret, reads a store or
a clock: the shell verified the factor with its services, and ``now`` comes in.

Enumeration resistance (OWASP ASVS 5 6.3.8): what a flow offers before a first factor is
verified depends on the **policy only**, never on the principal (:func:`first_factors`): a
principal that does not exist, one with a code only and one with a passkey get the same
page. Their enrolled methods (``enrolled``, from the shell) are used only once the first
factor was verified, to offer the second factor (the engine's ``StepUpRequired.methods``).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final, TypeAlias

from securebox_auth.clock import require_aware
from securebox_auth.errors import FlowExpired, FlowOutOfOrder, MalformedInput
from securebox_auth.factors.methods import METHODS
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.decision import Allow, Decision, Deny, StepUpRequired
from securebox_auth.policy.engine import decide_login
from securebox_auth.policy.model import Policy
from securebox_auth.policy.session import Session

__all__ = [
    "FIRST_FACTORS",
    "FLOW_ID_BYTES",
    "LOGIN_LIFETIME",
    "AskCodeChange",
    "CodeChanged",
    "FactorFailed",
    "FactorVerified",
    "Finished",
    "LoginAction",
    "LoginEvent",
    "LoginFlow",
    "LoginState",
    "LoginStep",
    "Offer",
    "OpenLoginSession",
    "advance",
    "first_factors",
    "new_flow_id",
    "start_login",
]

#: Random bytes of a flow identifier (256 bits; a flow id is a bearer reference).
FLOW_ID_BYTES: Final = 32
#: How long a login may take from identification to the last factor.
LOGIN_LIFETIME: Final = timedelta(minutes=10)
#: Failed factors in one flow before it ends (the lockout counts them too, per element).
MAX_FAILURES: Final = 5
#: Methods that may open a login: those whose server side does not reveal whether the
#: principal exists or what it enrolled (a code, a card, a certificate, a passkey with
#: decoys). One-time codes by SMS or e-mail, TOTP and recovery codes are second factors:
#: offering them first would tell who has them (and send messages for anyone).
FIRST_FACTORS: Final = frozenset(
    {
        "confidential_code",
        "cap_identify",
        "cap_respond",
        "certificate",
        "smartcard_pin",
        "passkey_uv",
        "passkey_no_uv",
    }
)


def new_flow_id() -> str:
    """A fresh flow identifier (256 bits from :mod:`secrets`)."""
    return secrets.token_urlsafe(FLOW_ID_BYTES)


def first_factors(policy: Policy) -> tuple[str, ...]:
    """What a login offers before anything is verified: a function of the policy alone."""
    return tuple(m for m in policy.login.methods if m in FIRST_FACTORS)


class LoginState(enum.StrEnum):
    FIRST_FACTOR = "first_factor"
    CODE_CHANGE = "code_change"
    SECOND_FACTOR = "second_factor"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LoginFlow:
    """One login in progress. ``proven`` lists the methods verified so far, ``offered`` what
    the user may use next, ``notes`` the sentences of :meth:`explain`; ``code_set_at`` when
    the confidential code it verified had been set (the flow moves on only while that code
    is the principal's code)."""

    id: str = field(repr=False)
    principal: Principal
    channel: str
    created_at: datetime
    expires_at: datetime
    state: LoginState
    offered: tuple[str, ...]
    proven: tuple[str, ...] = ()
    failures: int = 0
    notes: tuple[str, ...] = ()
    code_set_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in (LoginState.DONE, LoginState.FAILED)

    def expired(self, now: datetime) -> bool:
        return require_aware(now) >= self.expires_at

    def explain(self) -> str:
        """Where the flow is and why, in words."""
        head = f"login of {self.principal.key} on {self.channel}: {self.state.value}"
        lines = [head]
        if self.proven:
            lines.append(f"  proven: {', '.join(self.proven)}")
        if not self.finished:
            lines.append(f"  next: one of {', '.join(self.offered) or '(none)'}")
            lines.append(f"  expires at {self.expires_at.isoformat()}")
        lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FactorVerified:
    """The shell verified ``method`` (through its service) at ``now``. ``change_required``:
    a one-time code was right, and must be changed before anything else."""

    method: str
    change_required: bool = False


@dataclass(frozen=True, slots=True)
class FactorFailed:
    """The shell's verification of ``method`` failed (wrong, replayed, blocked...).
    ``blocked`` ends the flow."""

    method: str
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class CodeChanged:
    """The forced code change was committed (proving the one-time code again)."""


LoginEvent: TypeAlias = FactorVerified | FactorFailed | CodeChanged


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """Ask the user for one of ``methods``; ``decision`` is the engine's reason (a
    ``StepUpRequired`` before the second factor), ``None`` for the first factor."""

    methods: tuple[str, ...]
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class AskCodeChange:
    """Ask for a new code (the one-time code must be changed first)."""


@dataclass(frozen=True, slots=True)
class OpenLoginSession:
    """Open ``session``; record ``last_sca`` as the renewal clock of the channel when it
    is ``renewed`` (a strong login)."""

    decision: Allow
    session: Session
    last_sca: datetime | None
    renewed: bool


@dataclass(frozen=True, slots=True)
class Finished:
    """The flow ended without a session: ``decision`` when the engine denied, else
    ``reason`` (``too_many_failures``, ``blocked``)."""

    reason: str
    decision: Deny | None = None


LoginAction: TypeAlias = Offer | AskCodeChange | OpenLoginSession | Finished


@dataclass(frozen=True, slots=True)
class LoginStep:
    flow: LoginFlow
    action: LoginAction


# -- transitions ------------------------------------------------------------------------------


def start_login(
    policy: Policy,
    principal: Principal,
    *,
    channel: str,
    now: datetime,
    flow_id: str | None = None,
    lifetime: timedelta = LOGIN_LIFETIME,
) -> LoginStep:
    """Identify: a new flow for the *claimed* ``principal`` (it may not exist: the answer is
    the same), offering :func:`first_factors`."""
    now = require_aware(now)
    offered = first_factors(policy)
    if not offered:
        raise MalformedInput("the policy accepts no method that can open a login")
    flow = LoginFlow(
        id=flow_id or new_flow_id(),
        principal=principal,
        channel=channel,
        created_at=now,
        expires_at=now + lifetime,
        state=LoginState.FIRST_FACTOR,
        offered=offered,
        notes=("identified; first factor offered from the policy alone (ASVS 5 6.3.8)",),
    )
    return LoginStep(flow, Offer(offered))


def _refuse(flow: LoginFlow, why: str) -> FlowOutOfOrder:
    return FlowOutOfOrder(f"{why} (flow is {flow.state.value})")


def advance(
    policy: Policy,
    flow: LoginFlow,
    event: LoginEvent,
    *,
    now: datetime,
    last_sca: datetime | None = None,
    lockout: LockoutState | None = None,
    enrolled: Collection[str] | None = None,
    sessions_ended_at: datetime | None = None,
    code_set_at: datetime | None = None,
) -> LoginStep:
    """Apply ``event`` at ``now``. ``last_sca``, ``lockout`` and ``enrolled`` are the
    principal's renewal clock, lockout state and enrolled methods, read by the shell (used
    once a factor was verified); ``sessions_ended_at`` is when every session of the
    principal was last ended (a log out everywhere, an account recovery, a removal), and
    ``code_set_at`` when the principal's current confidential code was set. Raises
    :class:`FlowExpired` past the expiry, when the flow began no later than
    ``sessions_ended_at`` (what ended every session also ends the logins under way), or
    when the code the flow verified is no longer the principal's code (changed, reset or
    replaced since: a login that proved the old code cannot open a session), and
    :class:`FlowOutOfOrder` for an event the state does not take (ADR 0067)."""
    now = require_aware(now)
    if flow.finished:
        raise _refuse(flow, "the flow is finished")
    if flow.expired(now):
        raise FlowExpired("the login took too long: start again")
    if sessions_ended_at is not None:
        sessions_ended_at = require_aware(sessions_ended_at, "sessions_ended_at")
    if code_set_at is not None:
        code_set_at = require_aware(code_set_at, "code_set_at")
    if sessions_ended_at is not None and flow.created_at <= sessions_ended_at:
        raise FlowExpired("every session of this account was ended meanwhile: start again")
    verified_code = flow.code_set_at
    if (
        verified_code is not None
        and code_set_at is not None
        and code_set_at != verified_code
        and not isinstance(event, CodeChanged)  # the change this flow asked for
    ):
        raise FlowExpired("the code was changed meanwhile: start again")
    step = _apply(policy, flow, event, now, last_sca, lockout, enrolled)
    sets_code = isinstance(event, CodeChanged) or (
        isinstance(event, FactorVerified) and event.method == "confidential_code"
    )
    if sets_code and code_set_at is not None:
        return LoginStep(replace(step.flow, code_set_at=code_set_at), step.action)
    return step


def _apply(
    policy: Policy,
    flow: LoginFlow,
    event: LoginEvent,
    now: datetime,
    last_sca: datetime | None,
    lockout: LockoutState | None,
    enrolled: Collection[str] | None,
) -> LoginStep:
    """The transition of ``event`` on a flow that may move."""
    if isinstance(event, CodeChanged):
        if flow.state is not LoginState.CODE_CHANGE:
            raise _refuse(flow, "no code change was asked for")
        proven = (*flow.proven, "confidential_code")
        return _decide(policy, flow, proven, now, last_sca, lockout, enrolled, "code changed")
    if flow.state is LoginState.CODE_CHANGE:
        raise _refuse(flow, "the code must be changed first")
    if event.method not in METHODS:
        raise MalformedInput("unknown method")
    if event.method not in flow.offered:
        raise _refuse(flow, f"{event.method} is not offered now")
    if isinstance(event, FactorFailed):
        failures = flow.failures + 1
        note = f"{event.method} failed ({failures})"
        if event.blocked or failures >= MAX_FAILURES:
            reason = "blocked" if event.blocked else "too_many_failures"
            ended = replace(
                flow, state=LoginState.FAILED, failures=failures, notes=(*flow.notes, note)
            )
            return LoginStep(ended, Finished(reason))
        kept = replace(flow, failures=failures, notes=(*flow.notes, note))
        return LoginStep(kept, Offer(flow.offered))
    if event.change_required:
        if event.method != "confidential_code" or flow.state is not LoginState.FIRST_FACTOR:
            raise _refuse(flow, "only a first confidential code can require a change")
        changing = replace(
            flow,
            state=LoginState.CODE_CHANGE,
            offered=(),
            notes=(*flow.notes, "one-time code right: it must be changed first"),
        )
        return LoginStep(changing, AskCodeChange())
    proven = (*flow.proven, event.method)
    return _decide(
        policy, flow, proven, now, last_sca, lockout, enrolled, f"{event.method} verified"
    )


def _decide(
    policy: Policy,
    flow: LoginFlow,
    proven: tuple[str, ...],
    now: datetime,
    last_sca: datetime | None,
    lockout: LockoutState | None,
    enrolled: Collection[str] | None,
    note: str,
) -> LoginStep:
    """Ask the engine about everything proven so far (never anything else)."""
    proven = tuple(dict.fromkeys(proven))
    outcome = decide_login(
        policy,
        principal=flow.principal,
        channel=flow.channel,
        methods=proven,
        last_sca=last_sca,
        now=now,
        lockout=lockout,
        enrolled=enrolled,
    )
    decision = outcome.decision
    notes = (*flow.notes, note, decision.headline())
    if isinstance(decision, Allow):
        assert outcome.session is not None
        done = replace(flow, state=LoginState.DONE, proven=proven, offered=(), notes=notes)
        renewed = outcome.last_sca is not None and outcome.last_sca == now
        return LoginStep(
            done, OpenLoginSession(decision, outcome.session, outcome.last_sca, renewed)
        )
    if isinstance(decision, StepUpRequired):
        offered = tuple(m for m in decision.methods if m not in proven)
        if offered:
            second = replace(
                flow, state=LoginState.SECOND_FACTOR, proven=proven, offered=offered, notes=notes
            )
            return LoginStep(second, Offer(offered, decision))
    denied = decision if isinstance(decision, Deny) else None
    failed = replace(flow, state=LoginState.FAILED, proven=proven, offered=(), notes=notes)
    return LoginStep(failed, Finished("denied", denied))
