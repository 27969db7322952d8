"""Policies as TOML: :func:`from_toml` reads (``tomllib``), :func:`to_toml` writes.

Reading is strict: an unknown key, a value of the wrong type or out of range raises
:class:`~securebox_auth.errors.PolicyError` whose ``path`` names the key
(``operation.payee_management.max_age``), with a suggestion when a key looks misspelt. A key
left out takes its default (see ``docs/policy.md``); a missing ``[operation]`` table means the
default operations, a present one lists every operation.

Durations are whole seconds or text with one unit (``"90s"``, ``"5m"``, ``"12h"``, ``"7d"``).
In ``[lockout]``, ``failure_window = 0`` means "count failures until a success",
``temporary_block = 0`` means "every block is permanent" and
``max_temporary_blocks = "never"`` means "never permanent".

Writing gives the normalised form: every key, durations in seconds, in a fixed order, so
``from_toml(to_toml(p)) == p`` and two equal policies are written identically.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar

from securebox_auth.errors import ConfigurationError, PolicyError
from securebox_auth.factors.cap_rules import CapRules
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.oob_issue import OobRules
from securebox_auth.factors.totp import TotpRules
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.factor_rules import cap_rules, delegation_rules, oob_rules, totp_rules
from securebox_auth.policy.model import (
    AcrLevels,
    DelegationRules,
    Linking,
    LoginRules,
    OperationRule,
    Policy,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    Unlisted,
    default_operations,
)
from securebox_auth.policy.writer import FORMAT_VERSION, to_toml

__all__ = ["FORMAT_VERSION", "from_toml", "load_policy", "to_toml"]


_DURATION: Final = re.compile(r"\s*([0-9]{1,9})\s*([smhd]?)\s*")
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_E = TypeVar("_E", Linking, Unlisted)
_R = TypeVar("_R")


#: The longest duration a :class:`~datetime.timedelta` holds, in whole seconds.
MAX_SECONDS: Final = int(timedelta.max.total_seconds())


def duration_seconds(value: object) -> int | None:
    """Whole seconds of a TOML duration (an integer from 0, or text such as ``"90s"``,
    ``"5m"``, ``"12h"``, ``"7d"``); ``None`` when ``value`` is neither."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        return int(match[1]) * _UNITS[match[2]]
    return None


def toml_text(document: object, error: Callable[[str], ConfigurationError]) -> str:
    """The text of a TOML document given as text or UTF-8 bytes; anything else raises
    ``error(message)``."""
    if isinstance(document, bytes):
        try:
            return document.decode("utf-8")
        except UnicodeDecodeError:
            raise error("not UTF-8 text") from None
    if not isinstance(document, str):
        raise error("a TOML document is text or UTF-8 bytes")
    return document


class _Table:
    """One TOML table being read: typed getters that remember which keys were used."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise PolicyError(path, "must be a table")
        self.data: dict[str, object] = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str) -> object | None:
        self.used.add(name)
        return self.data.get(name)

    def text(self, name: str, default: str) -> str:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise PolicyError(self.key(name), "must be text")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise PolicyError(self.key(name), "must be true or false")
        return value

    def integer(self, name: str, default: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if type(value) is not int:
            raise PolicyError(self.key(name), "must be a whole number")
        return value

    def seconds(self, name: str, default: timedelta) -> timedelta:
        value = self._get(name)
        if value is None:
            return default
        seconds = duration_seconds(value)
        if seconds is not None:
            if seconds > MAX_SECONDS:
                raise PolicyError(self.key(name), "is longer than a calendar can hold")
            return timedelta(seconds=seconds)
        raise PolicyError(
            self.key(name), 'must be whole seconds or text such as "90s", "5m", "12h", "7d"'
        )

    def names(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(self.key(name), "must be a list of names")
        return tuple(value)

    def choice(self, name: str, default: _E) -> _E:
        value = self._get(name)
        if value is None:
            return default
        kind = type(default)
        allowed = [member.value for member in kind]
        if not isinstance(value, str) or value not in allowed:
            raise PolicyError(self.key(name), f"must be one of {', '.join(allowed)}")
        return kind(value)

    def table(self, name: str) -> _Table | None:
        value = self._get(name)
        return None if value is None else _Table(value, self.key(name))

    def finish(self) -> None:
        for name in self.data:
            if name in self.used:
                continue
            close = difflib.get_close_matches(name, sorted(self.used), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PolicyError(self.key(name), f"unknown key{hint}")


def _wrap(section: str, error: ConfigurationError) -> PolicyError:
    """Turn an error of LockoutRules/CodeRules ("lockout.max_failures must ...") into a
    PolicyError with that path."""
    if isinstance(error, PolicyError):
        return error
    message = str(error)
    match = re.match(rf"({section}\.[a-z_]+)\b", message)
    if match is None:
        return PolicyError(section, message)
    return PolicyError(match[1], message.removeprefix(match[1]).strip())


def _lockout(table: _Table | None) -> LockoutRules:
    base = LockoutRules()
    if table is None:
        return base
    window = table.seconds("failure_window", base.failure_window or timedelta(0))
    block = table.seconds("temporary_block", base.temporary_block or timedelta(0))
    raw_max = table._get("max_temporary_blocks")
    max_blocks: int | None
    if raw_max is None:
        max_blocks = base.max_temporary_blocks
    elif raw_max == "never":
        max_blocks = None
    elif type(raw_max) is int:
        max_blocks = raw_max
    else:
        raise PolicyError(table.key("max_temporary_blocks"), 'must be a whole number or "never"')
    max_failures = table.integer("max_failures", base.max_failures)
    table.finish()
    try:
        return LockoutRules(
            max_failures=max_failures,
            failure_window=window or None,
            temporary_block=block or None,
            max_temporary_blocks=max_blocks,
        )
    except ConfigurationError as exc:
        raise _wrap("lockout", exc) from None


def _code(table: _Table | None) -> CodeRules:
    base = CodeRules()
    if table is None:
        return base
    try:
        rules = CodeRules(
            length=table.integer("length", base.length),
            history=table.integer("history", base.history),
            max_repeat=table.integer("max_repeat", base.max_repeat),
            max_sequence=table.integer("max_sequence", base.max_sequence),
            refuse_dates=table.boolean("refuse_dates", base.refuse_dates),
            min_identifier_overlap=table.integer(
                "min_identifier_overlap", base.min_identifier_overlap
            ),
            one_time_code_lifetime=table.seconds(
                "one_time_code_lifetime", base.one_time_code_lifetime
            ),
        )
    except PolicyError:
        raise
    except ConfigurationError as exc:
        raise _wrap("code", exc) from None
    table.finish()
    return rules


def _factor(section: str, table: _Table | None, build: Callable[[_Table], _R], base: _R) -> _R:
    """A factor section (:mod:`securebox_auth.policy.factor_rules`) or its default."""
    if table is None:
        return base
    try:
        rules = build(table)
    except PolicyError:
        raise
    except ConfigurationError as exc:
        raise _wrap(section, exc) from None
    table.finish()
    return rules


def _renewal(table: _Table | None) -> Renewal:
    base = Renewal()
    if table is None:
        return base
    every_days = table.integer("every_days", base.every_days)
    every_login = table.boolean("every_login", base.every_login)
    channels: list[tuple[str, RenewalRule]] = []
    channel_table = table.table("channel")
    if channel_table is not None:
        for name in channel_table.data:
            sub = channel_table.table(name)
            assert sub is not None
            rule = RenewalRule(
                every_days=sub.integer("every_days", every_days),
                every_login=sub.boolean("every_login", every_login),
            )
            sub.finish()
            channels.append((name, rule))
    table.finish()
    return Renewal(every_days=every_days, every_login=every_login, channels=tuple(channels))


def _operation(name: str, table: _Table) -> OperationRule:
    base = OperationRule(name=name)
    sensitive = table.boolean("sensitive", True)
    rule = OperationRule(
        name=name,
        label=table.text("label", ""),
        cites=table.text("cites", ""),
        sensitive=sensitive,
        methods=table.names("methods", base.methods if sensitive else ()),
        min_categories=table.integer("min_categories", base.min_categories),
        max_age=table.seconds("max_age", base.max_age),
        single_use=table.boolean("single_use", False),
        linking=table.choice("linking", Linking.NONE),
        payment=table.boolean("payment", False),
    )
    table.finish()
    return rule


def from_toml(document: str | bytes) -> Policy:
    """Read a policy from TOML text. Raises :class:`PolicyError`."""
    text = toml_text(document, lambda message: PolicyError("", message))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError("", f"not valid TOML: {exc}") from None
    root = _Table(data, "")
    version = root.integer("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise PolicyError("version", f"this securebox reads policy format {FORMAT_VERSION}")
    defaults = Policy()
    name = root.text("name", defaults.name)
    description = root.text("description", "")
    unlisted = root.choice("unlisted_operations", defaults.unlisted_operations)

    login_table = root.table("login")
    login = LoginRules()
    if login_table is not None:
        login = LoginRules(methods=login_table.names("methods", login.methods))
        login_table.finish()

    session_table = root.table("session")
    session = SessionRules()
    if session_table is not None:
        session = SessionRules(
            idle_timeout=session_table.seconds("idle_timeout", session.idle_timeout),
            absolute_lifetime=session_table.seconds("absolute_lifetime", session.absolute_lifetime),
        )
        session_table.finish()

    recovery_table = root.table("recovery")
    recovery = RecoveryRules()
    if recovery_table is not None:
        recovery = RecoveryRules(
            secret_questions=recovery_table.boolean("secret_questions", False),
            reset_link_lifetime=recovery_table.seconds(
                "reset_link_lifetime", recovery.reset_link_lifetime
            ),
        )
        recovery_table.finish()

    acr_table = root.table("acr")
    acr = AcrLevels()
    if acr_table is not None:
        acr = AcrLevels(
            simple=acr_table.text("simple", acr.simple),
            strong=acr_table.text("strong", acr.strong),
            phishing_resistant=acr_table.text("phishing_resistant", acr.phishing_resistant),
        )
        acr_table.finish()

    renewal = _renewal(root.table("renewal"))
    lockout = _lockout(root.table("lockout"))
    code = _code(root.table("code"))
    totp = _factor("totp", root.table("totp"), totp_rules, TotpRules())
    oob = _factor("oob", root.table("oob"), oob_rules, OobRules())
    cap, delegation = (
        _factor("cap", root.table("cap"), cap_rules, CapRules()),
        _factor("delegation", root.table("delegation"), delegation_rules, DelegationRules()),
    )

    operations_table = root.table("operation")
    if operations_table is None:
        operations = default_operations()
    else:
        found = []
        for op_name in operations_table.data:
            sub = operations_table.table(op_name)
            assert sub is not None
            found.append(_operation(op_name, sub))
        operations = tuple(found)
    root.finish()
    return Policy(
        name=name,
        description=description,
        unlisted_operations=unlisted,
        login=login,
        renewal=renewal,
        session=session,
        lockout=lockout,
        code=code,
        totp=totp,
        oob=oob,
        cap=cap,
        recovery=recovery,
        acr=acr,
        operations=operations,
        delegation=delegation,
    )


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read a policy file (the only function of the policy package that does I/O)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PolicyError("", f"cannot read {file}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError("", f"{file} is not UTF-8 text") from None
    return from_toml(text)
