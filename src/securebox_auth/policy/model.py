"""The policy: a frozen, validated description of what each login and operation needs.

A :class:`Policy` is built once (from TOML by :mod:`securebox_auth.policy.loader`, or in
Python) and never changes. Every part validates itself on construction and raises
:class:`~securebox_auth.errors.PolicyError` naming the offending key, so an invalid policy can
never reach the engine. The defaults are the ``psd2-default`` profile: strong authentication
at the first access and every 90 days per access channel (the Coop@ccess guide; RTS art. 10 allows
up to 180), a 5-minute idle timeout (RTS art. 4(3)(d)), lockout at the 5th failure (RTS art.
4(3)(b)), and the five sensitive operations of the Coop@ccess guide with step-up.

Reused building blocks: ``[lockout]`` builds a :class:`~securebox_auth.lockout.rules.LockoutRules`,
``[code]`` a :class:`~securebox_auth.factors.code_strength.CodeRules` and ``[totp]`` a
:class:`~securebox_auth.factors.totp.TotpRules`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from securebox_auth.errors import PolicyError
from securebox_auth.factors.cap_rules import CapRules
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.methods import (
    METHODS,
    AuthMethod,
    FactorCategory,
    categories_of,
    category_mask,
)
from securebox_auth.factors.oob_issue import OobRules
from securebox_auth.factors.totp import TotpRules
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.linking import Linking
from securebox_auth.policy.sections import (
    AcrLevels,
    DelegationRules,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    check_duration,
    valid_name,
)

__all__ = [
    "LINKED_METHODS",
    "PSD2_DEFAULT",
    "SEED_SENSITIVE_OPERATIONS",
    "STRONG_METHODS",
    "AcrLevels",
    "DelegationRules",
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
        if not valid_name(self.name):
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
        check_duration(f"{path}.max_age", self.max_age, timedelta(seconds=1), timedelta(hours=24))
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
    #: One-time codes by SMS or e-mail: length, lifetime, tries, send throttles (``[oob]``).
    oob: OobRules = field(default_factory=OobRules)
    #: EMV-CAP verification: the ATC window searched past a card's last counter (``[cap]``).
    cap: CapRules = field(default_factory=CapRules)
    recovery: RecoveryRules = field(default_factory=RecoveryRules)
    acr: AcrLevels = field(default_factory=AcrLevels)
    operations: tuple[OperationRule, ...] = field(default_factory=default_operations)
    #: What access managers may do (``[delegation]``): see :class:`DelegationRules`.
    delegation: DelegationRules = field(default_factory=DelegationRules)
    _index: Mapping[str, OperationRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not valid_name(self.name):
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
            oob=self.oob,
            cap=self.cap,
            recovery=self.recovery,
            acr=self.acr,
            operations=tuple(merged.values()),
        )


#: The ``psd2-default`` profile (equal to the shipped ``policies/psd2-default.toml``).
PSD2_DEFAULT: Final = Policy(
    description="Seed rules: SCA at first access and every 90 days per channel; step-up for "
    "the five sensitive operations"
)
