"""The sections of a policy that are not operations: ``[renewal]``, ``[session]``,
``[recovery]`` and ``[acr]`` (re-exported by :mod:`securebox_auth.policy.model`), and the
checks every section shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from securebox_auth.errors import PolicyError

__all__ = [
    "AcrLevels",
    "DelegationRules",
    "RecoveryRules",
    "Renewal",
    "RenewalRule",
    "SessionRules",
    "check_duration",
    "valid_name",
]

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ACR: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}")


def valid_name(name: object) -> bool:
    """A policy, operation or channel name: 1-64 of letters, digits and ``_.:-``."""
    return isinstance(name, str) and bool(_NAME.fullmatch(name))


def check_duration(
    path: str, value: timedelta, low: timedelta, high: timedelta, *, zero_ok: bool = False
) -> None:
    if not isinstance(value, timedelta):
        raise PolicyError(path, "must be a duration")
    if zero_ok and value == timedelta(0):
        return
    if not low <= value <= high or value.microseconds:
        raise PolicyError(path, f"must be whole seconds between {low} and {high}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalRule:
    """How often a login must be strong, for one access channel."""

    every_days: int = 90
    #: Strong authentication at every login (some banks' choice; stricter than RTS art. 10).
    every_login: bool = False
    _period: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days = self.every_days if type(self.every_days) is int and self.every_days > 0 else 0
        object.__setattr__(self, "_period", timedelta(days=min(days, 3650)))

    @property
    def period(self) -> timedelta:
        return self._period


def _check_renewal(path: str, rule: RenewalRule) -> None:
    if type(rule.every_days) is not int or not 1 <= rule.every_days <= 3650:
        raise PolicyError(f"{path}.every_days", "must be a whole number of days, 1 to 3650")
    if not isinstance(rule.every_login, bool):
        raise PolicyError(f"{path}.every_login", "must be true or false")


@dataclass(frozen=True, slots=True, kw_only=True)
class Renewal:
    """The renewal rule (RTS art. 10): strong authentication at the first access to a channel
    and again when the last one on that channel is more than ``every_days`` old. ``channels``
    overrides it per access channel (for instance an AISP channel, RTS art. 10a)."""

    every_days: int = 90
    every_login: bool = False
    channels: tuple[tuple[str, RenewalRule], ...] = ()
    _default: RenewalRule = field(init=False, repr=False, compare=False)
    _by_channel: Mapping[str, RenewalRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        default = RenewalRule(every_days=self.every_days, every_login=self.every_login)
        _check_renewal("renewal", default)
        seen: dict[str, RenewalRule] = {}
        for name, rule in self.channels:
            if not valid_name(name):
                raise PolicyError(f"renewal.channel.{name}", "invalid channel name")
            if name in seen:
                raise PolicyError(f"renewal.channel.{name}", "channel listed twice")
            _check_renewal(f"renewal.channel.{name}", rule)
            seen[name] = rule
        object.__setattr__(self, "_default", default)
        object.__setattr__(self, "_by_channel", seen)  # private: never handed out

    @property
    def default_rule(self) -> RenewalRule:
        """The rule for channels without an override."""
        return self._default

    def for_channel(self, channel: str) -> RenewalRule:
        return self._by_channel.get(channel, self._default)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRules:
    """Session timeouts: inactivity (RTS art. 4(3)(d): 5 minutes) and absolute lifetime."""

    idle_timeout: timedelta = timedelta(minutes=5)
    absolute_lifetime: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        check_duration(
            "session.idle_timeout", self.idle_timeout, timedelta(seconds=1), timedelta(days=1)
        )
        check_duration(
            "session.absolute_lifetime",
            self.absolute_lifetime,
            timedelta(seconds=1),
            timedelta(days=30),
        )
        if self.absolute_lifetime < self.idle_timeout:
            raise PolicyError("session.absolute_lifetime", "must not be shorter than idle_timeout")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryRules:
    """Recovery settings the linter checks (the recovery flows use them)."""

    #: Whether secret questions may be used to recover an identifier (the Carcept Prev guide's
    #: portal does).
    secret_questions: bool = False
    #: Lifetime of a password-reset link sent by e-mail (Carcept Prev guide: 3 hours).
    reset_link_lifetime: timedelta = timedelta(hours=3)

    def __post_init__(self) -> None:
        if not isinstance(self.secret_questions, bool):
            raise PolicyError("recovery.secret_questions", "must be true or false")
        check_duration(
            "recovery.reset_link_lifetime",
            self.reset_link_lifetime,
            timedelta(minutes=1),
            timedelta(days=30),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AcrLevels:
    """The ``acr`` values securebox emits and asks for (OIDC, RFC 9470)."""

    #: one category proven
    simple: str = "urn:securebox:acr:simple"
    #: PSD2 strong customer authentication: two independent categories
    strong: str = "urn:securebox:acr:sca"
    #: strong, with a phishing-resistant method (certificate, smartcard, passkey)
    phishing_resistant: str = "urn:securebox:acr:sca:phr"

    def __post_init__(self) -> None:
        for key in ("simple", "strong", "phishing_resistant"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _ACR.fullmatch(value):
                raise PolicyError(
                    f"acr.{key}", "an acr value is printable ASCII without spaces, quotes or \\"
                )
        if len({self.simple, self.strong, self.phishing_resistant}) != 3:
            raise PolicyError("acr", "the three acr values must differ")


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegationRules:
    """What an access manager may do (``[delegation]``). The bank's Digital Box guide lets
    access managers give and withdraw employees' access to the box and nothing more (the
    default, the narrower reading); the e-Box Enterprise integration guide also lets them
    manage the rights and confidential codes of those employees
    (``access_managers_manage_rights_and_codes = true``)."""

    access_managers_manage_rights_and_codes: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.access_managers_manage_rights_and_codes, bool):
            raise PolicyError(
                "delegation.access_managers_manage_rights_and_codes", "must be true or false"
            )
