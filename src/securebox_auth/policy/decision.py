"""Typed decisions: :class:`Allow`, :class:`StepUpRequired`, :class:`Deny`.

Every decision carries the rules that fired (:class:`Fired`), each with the article or bank
rule it encodes and the facts it used, so ``explain()`` can say *why* in words a security
team can read. Sentences are formatted only when asked for: building a decision stays cheap.

For APIs, :meth:`StepUpRequired.www_authenticate` renders the RFC 9470 challenge
(``Bearer error="insufficient_user_authentication"`` with ``acr_values`` and ``max_age``), and
a :class:`Deny` that needs a new login renders ``error="invalid_token"`` (RFC 6750).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Final, Literal, NamedTuple, TypeAlias

from securebox_auth.identity import Principal
from securebox_auth.policy.linking import OperationRequest
from securebox_auth.policy.model import Linking
from securebox_auth.policy.session import Grant

__all__ = [
    "Allow",
    "Challenge",
    "Decision",
    "Deny",
    "Fired",
    "Reason",
    "StepUpRequired",
    "format_fact",
]


class Reason(enum.StrEnum):
    """Stable reason codes of :class:`StepUpRequired` and :class:`Deny`."""

    # step-up
    FIRST_ACCESS = "first_access"
    RENEWAL_EXPIRED = "renewal_expired"
    EVERY_LOGIN = "every_login"
    NOT_STRONG = "not_strong"
    PROOF_TOO_OLD = "proof_too_old"
    NO_GRANT = "no_grant"
    GRANT_MISMATCH = "grant_mismatch"
    GRANT_EXPIRED = "grant_expired"
    # deny
    LOCKED = "locked"
    SESSION_IDLE = "session_idle"
    SESSION_EXPIRED = "session_expired"
    UNLISTED_OPERATION = "unlisted_operation"
    METHOD_NOT_ACCEPTED = "method_not_accepted"
    NO_ENROLLED_METHOD = "no_enrolled_method"
    PRINCIPAL_MISMATCH = "principal_mismatch"
    CHALLENGE_MISMATCH = "challenge_mismatch"
    CHALLENGE_EXPIRED = "challenge_expired"
    STEP_UP_INSUFFICIENT = "step_up_insufficient"
    LINKING_METHOD_MISSING = "linking_method_missing"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def format_fact(value: object) -> str:
    """A fact as text: durations in words, times in ISO 8601, sequences comma-separated."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds and seconds % size == 0:
                return _plural(seconds // size, unit)
        if seconds >= 86400:
            return f"{value.total_seconds() / 86400:.2f} days"
        return _plural(seconds, "second")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple | list | frozenset | set):
        items = (
            sorted(map(format_fact, value))
            if isinstance(value, frozenset | set)
            else [format_fact(v) for v in value]
        )
        return ", ".join(items) if items else "(none)"
    if value is None:
        return "(none)"
    return str(value)


class Fired(NamedTuple):
    """A rule that fired: a stable ``rule`` id, the article or bank rule it ``cites``, a
    sentence ``template`` (``str.format`` fields name facts) and the ``facts`` it used.

    A named tuple, because every decision builds one; the sentence is formatted only when
    :meth:`explain` or :meth:`sentence` is called."""

    rule: str
    cites: str
    template: str
    facts: tuple[tuple[str, object], ...] = ()

    def sentence(self) -> str:
        return self.template.format_map({k: format_fact(v) for k, v in self.facts})

    def explain(self) -> str:
        head = f"- {self.rule}"
        if self.cites:
            head += f" [{self.cites}]"
        lines = [f"{head}: {self.sentence()}"]
        if self.facts:
            lines.append(
                "    facts: " + "; ".join(f"{k} = {format_fact(v)}" for k, v in self.facts)
            )
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, init=False)
class Challenge:
    """What the step-up must prove, and the data it must be bound to.

    :attr:`display` lists what the user must be shown before authenticating (RTS art.
    5(1)(a)): amount and payee, or batch total, payments and payees. A method that carries
    dynamic linking computes its code over ``digest``; the shell adds its own random nonce.
    """

    principal: Principal
    operation: str | None
    acr_values: tuple[str, ...]
    #: RFC 9470 ``max_age`` in seconds (0 = authenticate now, for this operation only).
    max_age: int | None
    methods: tuple[str, ...]
    issued_at: datetime
    linking: Linking = Linking.NONE
    digest: str | None = None
    #: The operation's data (``None`` for a login).
    request: OperationRequest | None = None

    def __init__(
        self,
        principal: Principal,
        operation: str | None,
        acr_values: tuple[str, ...],
        max_age: int | None,
        methods: tuple[str, ...],
        issued_at: datetime,
        linking: Linking = Linking.NONE,
        digest: str | None = None,
        request: OperationRequest | None = None,
    ) -> None:
        # Built by every step-up decision: slots set through their descriptors (see Allow).
        s = _CHALLENGE_SLOTS
        s[0](self, principal)
        s[1](self, operation)
        s[2](self, acr_values)
        s[3](self, max_age)
        s[4](self, methods)
        s[5](self, issued_at)
        s[6](self, linking)
        s[7](self, digest)
        s[8](self, request)

    @property
    def display(self) -> tuple[tuple[str, str], ...]:
        return self.request.display() if self.request is not None else ()


_CHALLENGE_SLOTS: Final = tuple(
    getattr(Challenge, name).__set__
    for name in (
        "principal",
        "operation",
        "acr_values",
        "max_age",
        "methods",
        "issued_at",
        "linking",
        "digest",
        "request",
    )
)


_ALLOWED: Final = frozenset(range(0x20, 0x7F)) - {0x22, 0x5C}


def _description(text: str) -> str:
    """RFC 6750 error_description characters only (no quote, no backslash, ASCII)."""
    return "".join(ch if ord(ch) in _ALLOWED else "?" for ch in text)


class _Decision:
    __slots__ = ()
    kind: ClassVar[Literal["allow", "step_up", "deny"]]
    title: ClassVar[str]
    status_hint: ClassVar[int]
    fired: tuple[Fired, ...]

    @property
    def allowed(self) -> bool:
        return self.kind == "allow"

    @property
    def status(self) -> int:
        """The HTTP status an API answers with (200, 401 for a step-up or a new login, 403)."""
        return self.status_hint

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the rules that fired, in order."""
        return tuple(f.rule for f in self.fired)

    def _head(self) -> str:
        return self.title

    def _tail(self) -> list[str]:
        return []

    def explain(self) -> str:
        """The decision, the rules that fired with their facts, and what to do next."""
        return "\n".join([self._head(), *(f.explain() for f in self.fired), *self._tail()])

    def headline(self) -> str:
        """The first line of :meth:`explain` (the decision and its reason), without
        formatting the rules' facts: what a flow's notes keep."""
        return self._head()


@dataclass(frozen=True, slots=True, init=False)
class Allow(_Decision):
    """Go ahead. ``consumed`` is the single-use grant this decision used up, if any."""

    fired: tuple[Fired, ...]
    operation: str | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    consumed: Grant | None = None
    kind: ClassVar[Literal["allow"]] = "allow"
    title: ClassVar[str] = "Allow"
    status_hint: ClassVar[int] = 200

    def __init__(
        self,
        fired: tuple[Fired, ...],
        operation: str | None = None,
        acr: str | None = None,
        amr: tuple[str, ...] = (),
        consumed: Grant | None = None,
    ) -> None:
        # The most frequent decision: slots set through their descriptors (see Session).
        f, o, a, m, c = _ALLOW_SLOTS
        f(self, fired)
        o(self, operation)
        a(self, acr)
        m(self, amr)
        c(self, consumed)

    def _head(self) -> str:
        what = f" operation {self.operation!r}" if self.operation else " login"
        acr = f" (acr {self.acr})" if self.acr else ""
        return f"Allow{what}{acr}"

    def www_authenticate(self) -> str | None:
        return None


_ALLOW_SLOTS: Final = tuple(
    getattr(Allow, name).__set__ for name in ("fired", "operation", "acr", "amr", "consumed")
)


@dataclass(frozen=True, slots=True)
class StepUpRequired(_Decision):
    """Strong authentication is needed first: one of ``methods`` (or a combination proving
    the missing categories), bound to ``challenge``."""

    reason: Reason
    methods: tuple[str, ...]
    challenge: Challenge
    fired: tuple[Fired, ...]
    kind: ClassVar[Literal["step_up"]] = "step_up"
    title: ClassVar[str] = "StepUpRequired"
    status_hint: ClassVar[int] = 401

    def _head(self) -> str:
        what = f"operation {self.challenge.operation!r}" if self.challenge.operation else "login"
        return f"StepUpRequired ({self.reason}) for {what}"

    def _tail(self) -> list[str]:
        lines = [f"  acceptable methods: {format_fact(self.methods)}"]
        c = self.challenge
        params = [f"acr_values={' '.join(c.acr_values)}"]
        if c.max_age is not None:
            params.append(f"max_age={c.max_age}")
        if c.linking is not Linking.NONE:
            params.append(f"linking={c.linking.value}")
            params.append(f"digest={c.digest}")
        lines.append("  challenge: " + ", ".join(params))
        if c.display:
            lines.append("  show the user: " + "; ".join(f"{k} {v}" for k, v in c.display))
        return lines

    def description(self) -> str:
        """A one-line reason for the ``error_description`` parameter."""
        return self.fired[-1].sentence() if self.fired else "strong authentication required"

    def www_authenticate(self) -> str:
        """The RFC 9470 challenge, the value of a ``WWW-Authenticate`` header."""
        c = self.challenge
        parts = [
            'Bearer error="insufficient_user_authentication"',
            f'error_description="{_description(self.description())}"',
            f'acr_values="{" ".join(c.acr_values)}"',
        ]
        if c.max_age is not None:
            parts.append(f'max_age="{c.max_age}"')
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Deny(_Decision):
    """No. ``reauthenticate`` is true when a new login (a new session) is the way forward."""

    reason: Reason
    fired: tuple[Fired, ...]
    reauthenticate: bool = False
    kind: ClassVar[Literal["deny"]] = "deny"
    title: ClassVar[str] = "Deny"
    status_hint: ClassVar[int] = 403

    def _head(self) -> str:
        return f"Deny ({self.reason})"

    @property
    def status(self) -> int:
        return 401 if self.reauthenticate else 403

    def www_authenticate(self) -> str | None:
        """``invalid_token`` (RFC 6750) when a new login is needed; otherwise no challenge."""
        if not self.reauthenticate:
            return None
        text = self.fired[-1].sentence() if self.fired else "authentication required"
        return f'Bearer error="invalid_token", error_description="{_description(text)}"'


#: What the engine returns.
Decision: TypeAlias = Allow | StepUpRequired | Deny
