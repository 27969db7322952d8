"""Scenario files: a timeline of events and the decision expected at each step.

Security teams write scenarios in TOML (see ``docs/policy.md`` for the format)::

    name = "Renewal: day 89 vs day 91"
    checks = "PSD2 RTS art. 10(2)(b); Coop@ccess guide (every 90 days)"

    [[step]]
    event = "login"
    methods = ["cap_identify"]
    expect = "allow"

    [[step]]
    day = 91
    event = "login"
    methods = ["confidential_code"]
    expect = "step_up"
    reason = "renewal_expired"

This module reads them into :class:`Scenario` values, validating every key with errors that
name it (``step[3].methods``); :mod:`securebox_auth.policy.runner` replays them. Events:
``enrol``, ``login``, ``failure``, ``operation``, ``step_up``, ``wait``, ``logout``,
``unblock``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Final

from securebox_auth.errors import ScenarioError, SecureboxError
from securebox_auth.factors.methods import METHODS
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutAlert
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.policy.loader import MAX_SECONDS, duration_seconds, toml_text

__all__ = [
    "DEFAULT_PRINCIPAL",
    "DEFAULT_START",
    "EVENTS",
    "Scenario",
    "Step",
    "load_scenario",
    "parse_scenario",
    "parse_step",
]

DEFAULT_START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT_PRINCIPAL: Final = "123456789:01"

_COMMON: Final = frozenset(
    {"event", "day", "time", "after", "principal", "channel", "note", "checks"}
)
_EXPECT: Final = frozenset({"expect", "reason", "rule", "acr"})
_REQUEST: Final = frozenset({"operation", "amount", "currency", "payee", "batch"})
#: Each event and the keys it takes besides ``event``, time and principal keys.
EVENTS: Final = {
    "enrol": frozenset({"methods"}),
    "login": frozenset({"methods"}) | _EXPECT,
    "failure": frozenset({"path", "expect", "alert"}),
    "operation": _REQUEST | _EXPECT,
    "step_up": frozenset({"methods", "session"}) | _EXPECT,
    "wait": frozenset(),
    "logout": frozenset(),
    "unblock": frozenset(),
}
_DECISIONS: Final = ("allow", "step_up", "deny")
_LOCK_STATES: Final = ("open", "blocked", "permanently_blocked")
_PATHS: Final = ("login", "step_up", "recovery", "api", "code_change")
_MAX_DAY: Final = timedelta.max.days


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a timeline, with what is expected of it."""

    index: int
    event: str
    at: datetime
    principal: Principal
    channel: str
    methods: tuple[str, ...] = ()
    request: OperationRequest | None = None
    #: ``step_up``: whose session and challenge (defaults to ``principal``).
    session_of: Principal | None = None
    #: ``failure``: the entry path (counted together, RTS art. 4(3)(b)).
    path: str = "login"
    expect: str | None = None
    reason: str | None = None
    rule: str | None = None
    acr: str | None = None
    alert: str | None = None
    note: str = ""
    checks: str = ""
    #: Whole days since the scenario's start (for reports).
    day: int = 0

    def describe(self) -> str:
        """A short label: ``login confidential_code`` or ``operation sepa_instant_transfer``."""
        who = f" by {self.principal}" if self.principal.key != DEFAULT_PRINCIPAL else ""
        if self.event in ("login", "step_up", "enrol"):
            return f"{self.event} {'+'.join(self.methods)}{who}"
        if self.event == "operation" and self.request is not None:
            data = " ".join(f"{v}" for _, v in self.request.display()[:2])
            return f"operation {self.request.operation}{' ' + data if data else ''}{who}"
        if self.event == "failure":
            return f"failure on {self.path}{who}"
        return f"{self.event}{who}"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    #: The article or bank rule this scenario checks (required).
    checks: str
    description: str
    steps: tuple[Step, ...]
    source: str = "<scenario>"


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(path, message)


def _duration(path: str, value: object) -> timedelta:
    seconds = duration_seconds(value)
    if seconds is not None and seconds <= MAX_SECONDS:
        return timedelta(seconds=seconds)
    raise _fail(path, 'a duration is whole seconds or text such as "301s", "5m", "2h", "91d"')


def _later(path: str, at: datetime, delta: timedelta) -> datetime:
    try:
        return at + delta
    except OverflowError:
        raise _fail(path, "the step falls after the year 9999") from None


def _principal(path: str, value: object) -> Principal:
    if not isinstance(value, str):
        raise _fail(path, 'a principal is written "CLIENT:USER"')
    try:
        return Principal.from_key(value)
    except SecureboxError as exc:
        raise _fail(path, str(exc)) from None


def _text(path: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(path, "must be text")
    return value


def _names(path: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, "must be a non-empty list of method names")
    for index, name in enumerate(value):
        if name not in METHODS:
            raise _fail(f"{path}[{index}]", f"unknown method {name!r}")
    return tuple(value)


def _amount(path: str, value: object, currency: str) -> Money:
    if isinstance(value, float):
        raise _fail(path, 'write amounts as text ("1250.00"): floats are not exact')
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(path, 'an amount is text such as "1250.00"')
    try:
        return Money.parse(value, currency)
    except SecureboxError as exc:
        raise _fail(path, str(exc)) from None


def _request(path: str, raw: dict[str, object]) -> OperationRequest:
    if "operation" not in raw:
        raise _fail(f"{path}.operation", "an operation event names its operation")
    name = _text(f"{path}.operation", raw["operation"])
    currency = _text(f"{path}.currency", raw.get("currency", "EUR"))
    payee = raw.get("payee")
    payment = None
    batch = None
    try:
        if "amount" in raw:
            if payee is None:
                raise _fail(f"{path}.payee", "an amount goes with a payee")
            payment = Payment(
                _amount(f"{path}.amount", raw["amount"], currency),
                _text(f"{path}.payee", payee),
            )
            payee = None
        if "batch" in raw:
            lines = raw["batch"]
            if not isinstance(lines, list) or not lines:
                raise _fail(f"{path}.batch", "a batch is a list of {payee, amount} tables")
            payments = []
            for index, line in enumerate(lines):
                where = f"{path}.batch[{index}]"
                if not isinstance(line, dict) or set(line) != {"payee", "amount"}:
                    raise _fail(where, "each batch line has exactly payee and amount")
                payments.append(
                    Payment(
                        _amount(f"{where}.amount", line["amount"], currency),
                        _text(f"{where}.payee", line["payee"]),
                    )
                )
            batch = Batch.of(payments)
        return OperationRequest(
            name,
            payment=payment,
            payee=None if payee is None else _text(f"{path}.payee", payee),
            batch=batch,
        )
    except ScenarioError:
        raise
    except SecureboxError as exc:
        raise _fail(path, str(exc)) from None


def parse_step(
    raw: object,
    *,
    index: int,
    previous: datetime,
    start: datetime,
    principal: Principal,
    channel: str,
) -> Step:
    """Read one ``[[step]]`` table (``index`` counts from 1)."""
    path = f"step[{index}]"
    if not isinstance(raw, dict):
        raise _fail(path, "a step is a table")
    event = raw.get("event")
    if not isinstance(event, str) or event not in EVENTS:
        raise _fail(f"{path}.event", f"must be one of {', '.join(EVENTS)}")
    for key in raw:
        if key not in _COMMON and key not in EVENTS[event]:
            raise _fail(f"{path}.{key}", f"not a key of a {event} event")

    at = previous
    if "day" in raw:
        day = raw["day"]
        if type(day) is not int or not 0 <= day <= _MAX_DAY:
            raise _fail(f"{path}.day", f"a day is a whole number from 0 to {_MAX_DAY}")
        clock = start.timetz()
        if "time" in raw:
            value = raw["time"]
            if not isinstance(value, time):
                raise _fail(f"{path}.time", "a time is a TOML local time such as 10:30:00")
            clock = value
        base = datetime.combine(start.date(), clock.replace(tzinfo=None), tzinfo=start.tzinfo)
        at = _later(path, base, timedelta(days=day))
    elif "time" in raw:
        raise _fail(f"{path}.time", "a time goes with a day")
    if "after" in raw:
        at = _later(path, at, _duration(f"{path}.after", raw["after"]))
    if at < previous:
        raise _fail(path, "steps go forward in time")
    if event == "wait" and "after" not in raw and "day" not in raw:
        raise _fail(path, "a wait event says how long (after) or until when (day)")

    who = _principal(f"{path}.principal", raw["principal"]) if "principal" in raw else principal
    where = _text(f"{path}.channel", raw["channel"]) if "channel" in raw else channel
    expect = raw.get("expect")
    if expect is not None:
        allowed = _LOCK_STATES if event == "failure" else _DECISIONS
        if not isinstance(expect, str) or expect not in allowed:
            raise _fail(f"{path}.expect", f"must be one of {', '.join(allowed)}")
    failure_path = raw.get("path", "login")
    if not isinstance(failure_path, str) or failure_path not in _PATHS:
        raise _fail(f"{path}.path", f"must be one of {', '.join(_PATHS)}")
    alert = raw.get("alert")
    if alert is not None and (
        not isinstance(alert, str) or alert not in {a.value for a in LockoutAlert}
    ):
        raise _fail(f"{path}.alert", f"must be one of {', '.join(a.value for a in LockoutAlert)}")
    methods: tuple[str, ...] = ()
    if event in ("enrol", "login", "step_up"):
        methods = _names(f"{path}.methods", raw.get("methods"))
    return Step(
        index=index,
        event=event,
        at=at,
        principal=who,
        channel=where,
        methods=methods,
        request=_request(path, raw) if event == "operation" else None,
        session_of=_principal(f"{path}.session", raw["session"]) if "session" in raw else None,
        path=str(failure_path),
        expect=None if expect is None else str(expect),
        reason=_text(f"{path}.reason", raw["reason"]) if "reason" in raw else None,
        rule=_text(f"{path}.rule", raw["rule"]) if "rule" in raw else None,
        acr=_text(f"{path}.acr", raw["acr"]) if "acr" in raw else None,
        alert=None if alert is None else str(alert),
        note=_text(f"{path}.note", raw.get("note", "")),
        checks=_text(f"{path}.checks", raw.get("checks", "")),
        day=(at - start).days,
    )


def parse_scenario(document: str | bytes, *, source: str = "<scenario>") -> Scenario:
    """Read a scenario from TOML text. Raises :class:`ScenarioError`."""
    text = toml_text(document, lambda message: _fail("", f"{source}: {message}"))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail("", f"{source}: not valid TOML: {exc}") from None
    known = {"name", "checks", "description", "start", "principal", "channel", "step"}
    for key in data:
        if key not in known:
            raise _fail(
                key,
                "unknown key (a scenario has name, checks, description, start, "
                "principal, channel and [[step]] tables)",
            )
    name = _text("name", data.get("name", Path(source).stem))
    if "checks" not in data:
        raise _fail("checks", "a scenario names the article or bank rule it checks")
    start = data.get("start", DEFAULT_START)
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise _fail("start", "start is a TOML date-time with an offset (2026-01-05T09:00:00Z)")
    principal = _principal("principal", data.get("principal", DEFAULT_PRINCIPAL))
    channel = _text("channel", data.get("channel", "web"))
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail("step", "a scenario has at least one [[step]]")
    steps: list[Step] = []
    previous = start
    for index, raw in enumerate(raw_steps, start=1):
        step = parse_step(
            raw,
            index=index,
            previous=previous,
            start=start,
            principal=principal,
            channel=channel,
        )
        steps.append(step)
        previous = step.at
    return Scenario(
        name=name,
        checks=_text("checks", data["checks"]),
        description=_text("description", data.get("description", "")),
        steps=tuple(steps),
        source=source,
    )


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail("", f"cannot read {file}: {exc.strerror}") from None
    return parse_scenario(data, source=str(file))
