"""Identity value types: client identifier, user number, principal, SIREN.

A subscription (the contract of a company or association) is identified by a **client
identifier**; each person inside it has a **user number**. A :class:`Principal` is the pair.
Banks differ in how these look, so the accepted shapes are an :class:`IdentifierFormat` that a
deployment can replace; the defaults are documented in ``docs/identity.md``.

Values are validated on construction: an instance of these types is always well formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Self

from stdnum import luhn
from stdnum.fr import siren

from securebox_auth.errors import ConfigurationError, InvalidIdentifier

__all__ = [
    "DEFAULT_CLIENT_ID_FORMAT",
    "DEFAULT_USER_NUMBER_FORMAT",
    "ClientId",
    "IdentifierFormat",
    "Principal",
    "Siren",
    "UserNumber",
    "luhn_valid",
]

# Every identifier, whatever the bank's format, fits this: it keeps storage keys, log lines
# and the principal's text form unambiguous.
_SAFE = re.compile(r"[A-Z0-9]{1,64}")
_SEPARATORS = str.maketrans("", "", " -.")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentifierFormat:
    """The accepted shape of one kind of identifier.

    ``pattern`` is a regular expression matched against the whole normalised value
    (upper-cased, with spaces, dashes and dots removed when ``ignore_separators`` is set).
    """

    label: str
    pattern: str
    ignore_separators: bool = True
    example: str = ""
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ConfigurationError(f"{self.label}: invalid pattern: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)
        if self.example and not self.accepts(self.example):
            raise ConfigurationError(f"{self.label}: the example does not match the pattern")

    def normalise(self, raw: str) -> str:
        text = raw.strip().upper()
        if self.ignore_separators:
            text = text.translate(_SEPARATORS)
        return text

    def accepts(self, raw: str) -> bool:
        value = self.normalise(raw)
        return bool(_SAFE.fullmatch(value)) and bool(self._compiled.fullmatch(value))


DEFAULT_CLIENT_ID_FORMAT = IdentifierFormat(
    label="client identifier", pattern=r"[0-9]{6,12}", example="123456789"
)
DEFAULT_USER_NUMBER_FORMAT = IdentifierFormat(
    label="user number", pattern=r"[0-9]{1,4}", example="01"
)


def _parse(raw: object, fmt: IdentifierFormat) -> str:
    if not isinstance(raw, str):
        raise InvalidIdentifier(f"{fmt.label} must be text")
    if len(raw) > 256:
        raise InvalidIdentifier(f"{fmt.label} is too long")
    value = fmt.normalise(raw)
    if not value:
        raise InvalidIdentifier(f"{fmt.label} is empty")
    if not fmt.accepts(value):
        hint = f" (for example {fmt.example})" if fmt.example else ""
        raise InvalidIdentifier(f"{fmt.label} does not have the expected format{hint}")
    return value


class _Identifier:
    """Shared behaviour of the identifier value types (validation of the canonical form)."""

    __slots__ = ()
    kind: ClassVar[str]
    value: str

    def _check_canonical(self) -> None:
        if not isinstance(self.value, str) or not _SAFE.fullmatch(self.value):
            raise InvalidIdentifier(f"{self.kind} must be 1 to 64 upper-case letters or digits")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class ClientId(_Identifier):
    """The identifier of a subscription, as printed on the bank statement."""

    kind: ClassVar[str] = "client identifier"
    value: str

    def __post_init__(self) -> None:
        self._check_canonical()

    # Explicit equality and hash on the text value: these types are set and dict keys on
    # every entitlement check, and the generated tuple-based methods cost several times more.
    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.value == self.value  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self.value)

    @classmethod
    def parse(cls, raw: object, fmt: IdentifierFormat = DEFAULT_CLIENT_ID_FORMAT) -> Self:
        """Normalise and validate what a user typed."""
        return cls(_parse(raw, fmt))


@dataclass(frozen=True, slots=True, order=True)
class UserNumber(_Identifier):
    """The number of a person inside a subscription. Leading zeros are significant."""

    kind: ClassVar[str] = "user number"
    value: str

    def __post_init__(self) -> None:
        self._check_canonical()

    # Explicit equality and hash on the text value: these types are set and dict keys on
    # every entitlement check, and the generated tuple-based methods cost several times more.
    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.value == self.value  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self.value)

    @classmethod
    def parse(cls, raw: object, fmt: IdentifierFormat = DEFAULT_USER_NUMBER_FORMAT) -> Self:
        return cls(_parse(raw, fmt))


@dataclass(frozen=True, slots=True, order=True)
class Principal:
    """Who is authenticating: a user number inside a subscription."""

    client_id: ClientId
    user_number: UserNumber
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, ClientId) or not isinstance(self.user_number, UserNumber):
            raise InvalidIdentifier("a principal is a ClientId and a UserNumber")
        object.__setattr__(self, "_key", f"{self.client_id.value}:{self.user_number.value}")

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Principal and other._key == self._key  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self._key)

    @classmethod
    def parse(
        cls,
        client_id: object,
        user_number: object,
        *,
        client_format: IdentifierFormat = DEFAULT_CLIENT_ID_FORMAT,
        user_format: IdentifierFormat = DEFAULT_USER_NUMBER_FORMAT,
    ) -> Principal:
        return cls(
            ClientId.parse(client_id, client_format), UserNumber.parse(user_number, user_format)
        )

    @property
    def key(self) -> str:
        """A stable text key, ``CLIENT:USER``, for storage and audit records."""
        return self._key

    @classmethod
    def from_key(cls, key: str) -> Principal:
        if not isinstance(key, str):
            raise InvalidIdentifier("a principal key is CLIENT:USER")
        client, sep, user = key.partition(":")
        if not sep:
            raise InvalidIdentifier("a principal key is CLIENT:USER")
        return cls(ClientId(client), UserNumber(user))

    def __str__(self) -> str:
        return self.key


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check (``stdnum.luhn``)."""
    if not isinstance(digits, str) or not digits or not digits.isascii() or not digits.isdigit():
        return False
    return bool(luhn.is_valid(digits))


@dataclass(frozen=True, slots=True, order=True)
class Siren:
    """A French company number: 9 digits with a Luhn check digit.

    Spaces are accepted on input (``"732 829 320"``) and removed.
    """

    value: str

    def __post_init__(self) -> None:
        if not (
            isinstance(self.value, str)
            and len(self.value) == 9
            and self.value.isascii()
            and self.value.isdigit()
        ):
            raise InvalidIdentifier("a SIREN is 9 digits")
        if not siren.is_valid(self.value):
            raise InvalidIdentifier("this SIREN fails its check digit")

    # Explicit equality and hash on the text value: these types are set and dict keys on
    # every entitlement check, and the generated tuple-based methods cost several times more.
    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.value == self.value  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self.value)

    @classmethod
    def parse(cls, raw: object) -> Siren:
        if not isinstance(raw, str):
            raise InvalidIdentifier("a SIREN must be text")
        if len(raw) > 64:
            raise InvalidIdentifier("a SIREN is 9 digits")
        return cls(raw.strip().replace(" ", "").replace("\u00a0", ""))

    def __str__(self) -> str:
        return self.value

    def formatted(self) -> str:
        """The usual printed form, ``732 829 320``."""
        return f"{self.value[:3]} {self.value[3:6]} {self.value[6:]}"
