"""The policy: a frozen, validated description of what each login and operation needs.

A :class:`Policy` is built once (from TOML by :mod:`securebox_auth.policy.loader`, or in
Python) and never changes. Every part validates itself on construction and raises
:class:`~securebox_auth.errors.PolicyError` naming the offending key, so an invalid policy can
never reach the engine. The defaults are the ``psd2-default`` profile: strong authentication
at the first access and every 90 days per access channel (Coop@ccess guide; RTS art. 10 allows up to
180), a 5-minute idle timeout (RTS art. 4(3)(d)), lockout at the 5th failure (RTS art.
4(3)(b)), and the five sensitive operations of the Coop@ccess guide with step-up.

Reused building blocks: ``[lockout]`` builds a :class:`~securebox_auth.lockout.LockoutRules`,
``[code]`` a :class:`~securebox_auth.factors.code_strength.CodeRules` and ``[totp]`` a
:class:`~securebox_auth.factors.totp.TotpRules`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from securebox_auth.errors import PolicyError
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.totp import TotpRules
from securebox_auth.lockout import LockoutRules
from securebox_auth.methods import (
    METHODS,
    AuthMethod,
    FactorCategory,
    categories_of,
    category_mask,
)
from securebox_auth.policy.linking import Linking

__all__ = [
    "LINKED_METHODS",
    "PSD2_DEFAULT",
    "SEED_SENSITIVE_OPERATIONS",
    "STRONG_METHODS",
    "AcrLevels",
    "Linking",
    "LoginRules",
    "OperationRule",
    "Policy",
    "RecoveryRules",
    "Renewal",
    "RenewalRule",
    "SessionRules",
    "Unlisted",
    "default_operations",
]

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ACR: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}")

#: Methods that are strong customer authentication on their own.
STRONG_METHODS: Final = (
    "cap_identify",
    "cap_respond",
    "cap_sign",
    "certificate",
    "smartcard_pin",
    "passkey_uv",
)
#: Strong methods that can carry dynamic linking (RTS art. 5).
LINKED_METHODS: Final = ("cap_sign", "certificate", "smartcard_pin", "passkey_uv")


class Unlisted(enum.Enum):
    """What happens to an operation the policy does not name."""

    ALLOW = "allow"
    DENY = "deny"


def _check_methods(path: str, names: tuple[str, ...]) -> tuple[AuthMethod, ...]:
    if not isinstance(names, tuple):
        raise PolicyError(path, "must be a list of method names")
    found: list[AuthMethod] = []
    for index, name in enumerate(names):
        if name not in METHODS:
            known = ", ".join(sorted(METHODS))
            raise PolicyError(f"{path}[{index}]", f"unknown method {name!r} (known: {known})")
        if name in names[:index]:
            raise PolicyError(f"{path}[{index}]", f"method {name!r} is listed twice")
        found.append(METHODS[name])
    return tuple(found)


def _candidates(methods: tuple[AuthMethod, ...]) -> tuple[tuple[str, int, bool], ...]:
    return tuple((m.name, category_mask([m.name]), m.dynamic_linking) for m in methods)


def _check_duration(
    path: str, value: timedelta, low: timedelta, high: timedelta, *, zero_ok: bool = False
) -> None:
    if not isinstance(value, timedelta):
        raise PolicyError(path, "must be a duration")
    if zero_ok and value == timedelta(0):
        return
    if not low <= value <= high or value.microseconds:
        raise PolicyError(path, f"must be whole seconds between {low} and {high}")


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationRule:
    """What one operation needs. ``sensitive=False`` operations need only a live session."""

    name: str
    label: str = ""
    #: The rule or article this operation encodes, shown by ``explain()``.
    cites: str = ""
    sensitive: bool = True
    #: Methods whose proofs count for this operation.
    methods: tuple[str, ...] = STRONG_METHODS
    #: Independent categories the counted proofs must cover (2 = PSD2 SCA).
    min_categories: int = 2
    #: How old the proof may be; for a single-use operation, the lifetime of the grant.
    max_age: timedelta = timedelta(minutes=5)
    #: The proof must be made for this operation and is consumed by it ("this operation only").
    single_use: bool = False
    linking: Linking = Linking.NONE
    #: The operation initiates a remote electronic payment (PSD2 art. 97(2)); used by the linter.
    payment: bool = False
    _methods: tuple[AuthMethod, ...] = field(init=False, repr=False, compare=False)
    _categories: frozenset[FactorCategory] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _candidates: tuple[tuple[str, int, bool], ...] = field(init=False, repr=False, compare=False)
    _linked: tuple[tuple[str, int, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise PolicyError(
                f"operation.{self.name}", "an operation name is 1-64 letters, digits, _ . : -"
            )
        path = f"operation.{self.name}"
        methods = _check_methods(f"{path}.methods", self.methods)
        object.__setattr__(self, "_methods", methods)
        object.__setattr__(self, "_categories", categories_of(methods))
        object.__setattr__(self, "_names", frozenset(self.methods))
        candidates = _candidates(methods)
        object.__setattr__(self, "_candidates", candidates)
        object.__setattr__(self, "_linked", tuple(sorted(candidates, key=lambda c: not c[2])))
        _check_duration(f"{path}.max_age", self.max_age, timedelta(seconds=1), timedelta(hours=24))
        if not self.sensitive:
            if self.methods or self.single_use or self.linking is not Linking.NONE:
                raise PolicyError(
                    f"{path}.sensitive",
                    "a non-sensitive operation has no methods, no single use and no linking",
                )
            return
        if not self.methods:
            raise PolicyError(f"{path}.methods", "a sensitive operation accepts some method")
        if not 1 <= self.min_categories <= 3:
            raise PolicyError(f"{path}.min_categories", "must be 1, 2 or 3")
        if len(self._categories) < self.min_categories:
            raise PolicyError(
                f"{path}.methods",
                f"these methods prove {len(self._categories)} categories together, fewer than "
                f"min_categories = {self.min_categories}: the operation could never be allowed",
            )
        if self.linking is not Linking.NONE:
            if not self.single_use:
                raise PolicyError(
                    f"{path}.single_use",
                    "a dynamically linked proof is specific to one operation (RTS arts. 4(1), "
                    "5(1)): set single_use = true",
                )
            if not any(m.dynamic_linking for m in methods):
                raise PolicyError(
                    f"{path}.methods",
                    "linking is required but none of these methods can carry dynamic linking",
                )

    @property
    def method_objects(self) -> tuple[AuthMethod, ...]:
        return self._methods

    @property
    def categories(self) -> frozenset[FactorCategory]:
        """The categories the accepted methods can prove together."""
        return self._categories

    @property
    def method_names(self) -> frozenset[str]:
        return self._names

    @property
    def candidates(self) -> tuple[tuple[str, int, bool], ...]:
        """``(name, category mask, dynamic linking)`` of each accepted method."""
        return self._candidates

    @property
    def linked_candidates(self) -> tuple[tuple[str, int, bool], ...]:
        """:attr:`candidates`, those that carry dynamic linking first."""
        return self._linked


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginRules:
    """Methods accepted at login; a login is strong when they prove two categories."""

    methods: tuple[str, ...] = (
        "confidential_code",
        "cap_identify",
        "cap_respond",
        "certificate",
        "smartcard_pin",
        "passkey_uv",
        "totp",
    )
    _methods: tuple[AuthMethod, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _candidates: tuple[tuple[str, int, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        methods = _check_methods("login.methods", self.methods)
        if len(categories_of(methods)) < 2:
            raise PolicyError(
                "login.methods", "no combination of these methods is strong authentication"
            )
        object.__setattr__(self, "_methods", methods)
        object.__setattr__(self, "_names", frozenset(self.methods))
        object.__setattr__(self, "_candidates", _candidates(methods))

    @property
    def method_objects(self) -> tuple[AuthMethod, ...]:
        return self._methods

    @property
    def method_names(self) -> frozenset[str]:
        return self._names

    @property
    def candidates(self) -> tuple[tuple[str, int, bool], ...]:
        """``(name, category mask, dynamic linking)`` of each accepted method."""
        return self._candidates


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
            if not isinstance(name, str) or not _NAME.fullmatch(name):
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
        _check_duration(
            "session.idle_timeout", self.idle_timeout, timedelta(seconds=1), timedelta(days=1)
        )
        _check_duration(
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

    #: Whether secret questions may be used to recover an identifier (Carcept Prev guide does).
    secret_questions: bool = False
    #: Lifetime of a password-reset link sent by e-mail (Carcept Prev guide: 3 hours).
    reset_link_lifetime: timedelta = timedelta(hours=3)

    def __post_init__(self) -> None:
        if not isinstance(self.secret_questions, bool):
            raise PolicyError("recovery.secret_questions", "must be true or false")
        _check_duration(
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


def default_operations() -> tuple[OperationRule, ...]:
    """The sensitive operations of the Coop@ccess guide, plus two ordinary ones."""
    return (
        OperationRule(
            name="account_access",
            label="Consulting accounts and transactions",
            cites="PSD2 RTS art. 10 (covered by the login renewal rule)",
            sensitive=False,
            methods=(),
        ),
        OperationRule(
            name="document_box",
            label="Reading the document box",
            cites="Digital Box guide",
            sensitive=False,
            methods=(),
        ),
        OperationRule(
            name="entitlements_management",
            label="Managing entitlements (habilitations)",
            cites="Coop@ccess guide; ASVS 5 7.5.1",
            methods=(*STRONG_METHODS, "confidential_code", "totp"),
            max_age=timedelta(minutes=5),
        ),
        OperationRule(
            name="payee_management",
            label="Managing payees (trusted beneficiaries)",
            cites="Coop@ccess guide; PSD2 RTS art. 13",
            methods=LINKED_METHODS,
            max_age=timedelta(minutes=5),
            single_use=True,
            linking=Linking.PAYEE,
        ),
        OperationRule(
            name="cheque_book_order",
            label="Ordering cheque books",
            cites="Coop@ccess guide",
            methods=(*STRONG_METHODS, "confidential_code", "totp"),
            max_age=timedelta(minutes=5),
        ),
        OperationRule(
            name="sepa_instant_transfer",
            label="Entering a SEPA instant transfer order",
            cites="Coop@ccess guide; PSD2 art. 97(2); PSD2 RTS arts. 4(1), 5(1)",
            methods=LINKED_METHODS,
            max_age=timedelta(minutes=5),
            single_use=True,
            linking=Linking.AMOUNT_PAYEE,
            payment=True,
        ),
        OperationRule(
            name="payment_batch_signing",
            label="Signing a batch of payment orders",
            cites="Coop@ccess guide; PSD2 RTS art. 5(3)(b); EBA Q&A 2018_4435",
            methods=LINKED_METHODS,
            max_age=timedelta(minutes=5),
            single_use=True,
            linking=Linking.BATCH,
            payment=True,
        ),
    )


#: The operations Coop@ccess guide names as sensitive; the linter warns when one is missing.
SEED_SENSITIVE_OPERATIONS: Final = (
    "entitlements_management",
    "payee_management",
    "cheque_book_order",
    "sepa_instant_transfer",
    "payment_batch_signing",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A complete policy. Compare with ``==``; build variants with :func:`dataclasses.replace`."""

    name: str = "psd2-default"
    description: str = ""
    unlisted_operations: Unlisted = Unlisted.DENY
    login: LoginRules = field(default_factory=LoginRules)
    renewal: Renewal = field(default_factory=Renewal)
    session: SessionRules = field(default_factory=SessionRules)
    lockout: LockoutRules = field(default_factory=LockoutRules)
    code: CodeRules = field(default_factory=CodeRules)
    #: TOTP parameters of new enrolments and the verification window (``[totp]``).
    totp: TotpRules = field(default_factory=TotpRules)
    recovery: RecoveryRules = field(default_factory=RecoveryRules)
    acr: AcrLevels = field(default_factory=AcrLevels)
    operations: tuple[OperationRule, ...] = field(default_factory=default_operations)
    _index: Mapping[str, OperationRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise PolicyError("name", "a policy name is 1-64 letters, digits, _ . : -")
        if not isinstance(self.description, str):
            raise PolicyError("description", "must be text")
        index: dict[str, OperationRule] = {}
        for rule in self.operations:
            if rule.name in index:
                raise PolicyError(f"operation.{rule.name}", "operation listed twice")
            index[rule.name] = rule
        object.__setattr__(self, "_index", index)  # private: never handed out

    def operation(self, name: str) -> OperationRule | None:
        """The rule for operation ``name``, or ``None`` when the policy does not list it."""
        return self._index.get(name)

    @property
    def operation_names(self) -> tuple[str, ...]:
        return tuple(self._index)

    def with_operations(self, rules: Iterable[OperationRule]) -> Policy:
        """A copy with ``rules`` replacing the operations of the same name (others kept)."""
        merged = dict(self._index)
        for rule in rules:
            merged[rule.name] = rule
        return Policy(
            name=self.name,
            description=self.description,
            unlisted_operations=self.unlisted_operations,
            login=self.login,
            renewal=self.renewal,
            session=self.session,
            lockout=self.lockout,
            code=self.code,
            totp=self.totp,
            recovery=self.recovery,
            acr=self.acr,
            operations=tuple(merged.values()),
        )


#: The ``psd2-default`` profile (equal to the shipped ``policies/psd2-default.toml``).
PSD2_DEFAULT: Final = Policy(
    description="Seed rules: SCA at first access and every 90 days per channel; step-up for "
    "the five sensitive operations"
)
