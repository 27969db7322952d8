"""The recovery flow, sans-IO (the shape of Ory Kratos' recovery flow):

``awaiting_address`` -> ``awaiting_code`` -> ``passed_challenge`` -> ``done``

* ``awaiting_address``: the flow exists (an id and an expiry), nothing was claimed yet;
* ``awaiting_code``: the user said who they are (identifiers, an address); a link, a code or
  a question waits for them. The answer is the same whether or not the claim matched an
  account: the flow moves on in both cases, and only the shell knows where a message went;
* ``passed_challenge``: the link was followed, the questions answered, the card or code
  proven; the flow now allows exactly its grant (:data:`GRANTS`), once, for a short time;
* ``done`` (the grant was used) or ``failed`` (too many wrong answers, superseded by a newer
  request, or expired on use).

Every function takes the flow and ``now`` and returns a new flow or raises
:class:`~securebox_auth.errors.FlowExpired` / :class:`~securebox_auth.errors.FlowOutOfOrder`;
nothing here reads a clock, a store or a secret.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from securebox_auth.clock import require_aware
from securebox_auth.errors import FlowExpired, FlowOutOfOrder, MalformedInput

__all__ = [
    "CHALLENGE_LIFETIME",
    "GRANTS",
    "GRANT_LIFETIME",
    "MAX_FAILURES",
    "RecoveryFlow",
    "RecoveryKind",
    "RecoveryState",
    "address_given",
    "challenge_answered",
    "finish",
    "new_recovery_id",
    "start_recovery",
    "supersede",
]

#: How long a flow waits for its address (a form left open).
START_LIFETIME: Final = timedelta(minutes=15)
#: How long a code sent by SMS (or a question page) waits for its answer; an e-mail link
#: lives the policy's ``recovery.reset_link_lifetime`` instead (3 hours by default).
CHALLENGE_LIFETIME: Final = timedelta(minutes=10)
#: How long a passed challenge may be used (choosing the new code).
GRANT_LIFETIME: Final = timedelta(minutes=10)
#: Wrong answers before the flow fails (the lockout counts proven codes on its own too).
MAX_FAILURES: Final = 3


class RecoveryKind(enum.StrEnum):
    """What is recovered, and how."""

    #: SIREN + name + the user's secret questions: the identifier is shown (policy option).
    IDENTIFIER_BY_QUESTIONS = "identifier_questions"
    #: SIREN + registered mobile + confidential code: the identifier is sent by SMS.
    IDENTIFIER_BY_SMS = "identifier_sms"
    #: identifiers + e-mail address: a link (single use) to choose a new code.
    CODE_BY_EMAIL = "code_email"
    #: identifiers + a CAP (card) proof: a new one-time code sent by SMS.
    CODE_BY_CARD = "code_card"


class RecoveryState(enum.StrEnum):
    AWAITING_ADDRESS = "awaiting_address"
    AWAITING_CODE = "awaiting_code"
    PASSED_CHALLENGE = "passed_challenge"
    DONE = "done"
    FAILED = "failed"


#: What a passed flow allows: never a session, never a strong authentication.
GRANTS: Final = MappingProxyType(
    {
        RecoveryKind.IDENTIFIER_BY_QUESTIONS: "show_identifier",
        RecoveryKind.IDENTIFIER_BY_SMS: "send_identifier",
        RecoveryKind.CODE_BY_EMAIL: "choose_code",
        RecoveryKind.CODE_BY_CARD: "send_one_time_code",
    }
)


def new_recovery_id() -> str:
    """A flow identifier (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class RecoveryFlow:
    """One recovery in progress; ``id`` is a bearer reference (never logged whole)."""

    id: str = field(repr=False)
    kind: RecoveryKind
    state: RecoveryState
    created_at: datetime
    expires_at: datetime
    failures: int = 0

    @property
    def finished(self) -> bool:
        return self.state in (RecoveryState.DONE, RecoveryState.FAILED)

    @property
    def grant(self) -> str:
        return GRANTS[self.kind]

    def expired(self, now: datetime) -> bool:
        return require_aware(now) >= self.expires_at


def start_recovery(
    kind: RecoveryKind, *, now: datetime, flow_id: str | None = None
) -> RecoveryFlow:
    """A new flow waiting for its address."""
    now = require_aware(now)
    if not isinstance(kind, RecoveryKind):
        raise MalformedInput("unknown recovery kind")
    return RecoveryFlow(
        id=flow_id or new_recovery_id(),
        kind=kind,
        state=RecoveryState.AWAITING_ADDRESS,
        created_at=now,
        expires_at=now + START_LIFETIME,
    )


def _live(flow: RecoveryFlow, now: datetime, expected: RecoveryState) -> datetime:
    now = require_aware(now)
    if flow.finished:
        raise FlowExpired("this recovery is finished: start again")
    if flow.expired(now):
        raise FlowExpired("this recovery expired: start again")
    if flow.state is not expected:
        raise FlowOutOfOrder(f"the recovery is {flow.state.value}, not {expected.value}")
    return now


def address_given(flow: RecoveryFlow, *, now: datetime, link_lifetime: timedelta) -> RecoveryFlow:
    """The user gave who they are: the challenge waits ``link_lifetime`` for an e-mail link
    (the policy's ``recovery.reset_link_lifetime``), :data:`CHALLENGE_LIFETIME` otherwise.
    Called whether or not the claim matched: the flow never tells."""
    now = _live(flow, now, RecoveryState.AWAITING_ADDRESS)
    wait = link_lifetime if flow.kind is RecoveryKind.CODE_BY_EMAIL else CHALLENGE_LIFETIME
    return replace(flow, state=RecoveryState.AWAITING_CODE, expires_at=now + wait)


def challenge_answered(flow: RecoveryFlow, *, now: datetime, passed: bool) -> RecoveryFlow:
    """The link was followed, or a proof answered: ``passed`` moves on to the grant (for
    :data:`GRANT_LIFETIME`), a wrong answer counts and fails the flow at
    :data:`MAX_FAILURES`."""
    now = _live(flow, now, RecoveryState.AWAITING_CODE)
    if passed:
        return replace(flow, state=RecoveryState.PASSED_CHALLENGE, expires_at=now + GRANT_LIFETIME)
    failures = flow.failures + 1
    state = RecoveryState.FAILED if failures >= MAX_FAILURES else flow.state
    return replace(flow, failures=failures, state=state)


def finish(flow: RecoveryFlow, *, now: datetime) -> RecoveryFlow:
    """The grant was used (once): the flow is done."""
    _live(flow, now, RecoveryState.PASSED_CHALLENGE)
    return replace(flow, state=RecoveryState.DONE)


def supersede(flow: RecoveryFlow) -> RecoveryFlow:
    """A newer request of the same user and kind ends this one (its link stops working)."""
    return flow if flow.finished else replace(flow, state=RecoveryState.FAILED)
