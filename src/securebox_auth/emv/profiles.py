"""Reader profiles: how each family of CAP readers fills the terminal data, per mode.

A CAP code is a MAC over the bytes the reader sent in GENERATE AC, so the server must
rebuild *exactly* those bytes. Readers differ (see ``docs/factors/cap.md``): UK PinSentry
readers send a date of ``010101``, a TVR of ``8000000000`` and zeros elsewhere; Vasco
readers of Belgian and Dutch banks also fill terminal capabilities, the CVM results and
the terminal type, use ``000000`` as date for Mastercard CAP but ``010101`` for Visa DPA,
fill the PDOL of GET PROCESSING OPTIONS and always send a second GENERATE AC.

A :class:`ReaderProfile` is those facts as data. :class:`TerminalInput` is what the user
typed (the mode, a challenge or reference, an amount, TDS numbers); :func:`dol_data` turns
both into the bytes of a DOL (CDOL1, CDOL2 or PDOL). The reader emulator and the verifier
call the same function, so they cannot drift apart.

Per mode (Mastercard names in brackets):

* ``IDENTIFY`` (mode 2, "CODE", login): unpredictable number and amount zero;
* ``RESPOND`` (mode 3): the challenge's digits as BCD, right-aligned, in 9F37;
* ``SIGN`` (mode 1, UK): a reference (payee account digits) as 9F37 and the amount in
  9F02; the currency in 5F2A only when the profile follows the IAF
  (``currency_from_iaf``, off in every shipped profile: UK readers send ``0000``) and the
  card's IAF has bit 8 set without bit 6;
* ``TDS`` (mode 2 + TDS, BE/NL): the GENERATE AC of ``IDENTIFY``, then the AC is replaced by
  a MAC over the typed numbers (:func:`securebox_auth.emv.cap.tds_mac`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from securebox_auth.emv.cap import IAF_AMOUNT, IAF_AMOUNT_ONLY, tds_block
from securebox_auth.emv.tlv import DolEntry
from securebox_auth.errors import DefinitionError, MalformedInput

__all__ = [
    "PINSENTRY_UK",
    "PROFILES",
    "SHIPPED_PROFILES",
    "VASCO_BE_PAYMENT",
    "VASCO_CAP",
    "VASCO_DPA",
    "CapMode",
    "ReaderProfile",
    "TerminalInput",
    "amount_n12",
    "challenge_un",
    "dol_data",
    "get_profile",
    "numeric_currency",
    "register_profile",
]

# EMV "n" (numeric BCD) fields are right-justified with leading zeros; 9F37 holds a
# decimal challenge the same way in CAP.
_NUMERIC: Final = frozenset({0x9F02, 0x9F03, 0x9F1A, 0x5F2A, 0x9A, 0x9C, 0x9F35, 0x9F37})
_MAX_CHALLENGE_DIGITS: Final = 8
_MAX_AMOUNT: Final = 10**12
# ISO 4217 numeric codes of the currencies of the EEA, Switzerland, the UK and a few others.
_NUMERIC_CURRENCY: Final = {
    "EUR": 978, "GBP": 826, "CHF": 756, "USD": 840, "SEK": 752, "DKK": 208, "NOK": 578,
    "PLN": 985, "CZK": 203, "HUF": 348, "RON": 946, "BGN": 975, "ISK": 352, "JPY": 392,
    "CAD": 124,
}  # fmt: skip


class CapMode(enum.Enum):
    IDENTIFY = "identify"
    RESPOND = "respond"
    SIGN = "sign"
    TDS = "tds"


def challenge_un(digits: str) -> bytes:
    """1-8 decimal digits as the 4-byte unpredictable number (BCD, right-aligned)."""
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit()):
        raise MalformedInput("a challenge is made of digits")
    if not 1 <= len(digits) <= _MAX_CHALLENGE_DIGITS:
        raise MalformedInput("a challenge has 1 to 8 digits")
    return bytes.fromhex(digits.rjust(8, "0"))


def amount_n12(minor: int) -> bytes:
    """An amount in minor units as EMV n12 (6 bytes of BCD)."""
    if type(minor) is not int or not 0 <= minor < _MAX_AMOUNT:
        raise MalformedInput("an amount is 0 to 999999999999 minor units")
    return bytes.fromhex(f"{minor:012d}")


def numeric_currency(alpha: str) -> int:
    """The ISO 4217 numeric code of a currency (``"EUR"`` → 978), for tag 5F2A."""
    try:
        return _NUMERIC_CURRENCY[alpha]
    except (KeyError, TypeError):
        raise MalformedInput(f"no numeric currency code is known for {alpha!r}") from None


@dataclass(frozen=True, slots=True)
class TerminalInput:
    """What a user typed into a reader for one code (all zero for ``IDENTIFY``)."""

    mode: CapMode
    un: bytes = bytes(4)
    amount: int = 0
    #: ISO 4217 numeric currency code, or ``None``.
    currency: int | None = None
    tds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.un) != 4:
            raise MalformedInput("an unpredictable number has 4 bytes")
        amount_n12(self.amount)
        if self.currency is not None and not 0 < self.currency < 1000:
            raise MalformedInput("a numeric currency code has 3 digits")
        if self.mode is CapMode.TDS:
            tds_block(self.tds)
        elif self.tds:
            raise MalformedInput("only TDS mode signs numbers")

    @classmethod
    def identify(cls) -> TerminalInput:
        return cls(CapMode.IDENTIFY)

    @classmethod
    def respond(cls, challenge: str) -> TerminalInput:
        return cls(CapMode.RESPOND, challenge_un(challenge))

    @classmethod
    def sign(cls, reference: str, amount: int, currency: int | None = None) -> TerminalInput:
        return cls(CapMode.SIGN, challenge_un(reference), amount, currency)

    @classmethod
    def tds_numbers(cls, numbers: Sequence[str]) -> TerminalInput:
        return cls(CapMode.TDS, tds=tuple(numbers))


def _frozen(values: Mapping[int, bytes]) -> Mapping[int, bytes]:
    for tag, value in values.items():
        if not isinstance(tag, int) or not isinstance(value, bytes):
            raise MalformedInput("profile values map int tags to bytes")
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderProfile:
    """How one family of readers talks to a card."""

    name: str
    label: str
    modes: frozenset[CapMode]
    #: Terminal data the reader always sets (everything it does not set is zero).
    fixed: Mapping[int, bytes] = field(default_factory=dict)
    #: Values of the GPO PDOL; ``None``: send an empty ``83 00`` whatever the card asks.
    pdol: Mapping[int, bytes] | None = None
    #: Send the second GENERATE AC (an AAC, "cancel the transaction") after the first.
    second_generate_ac: bool = False
    #: Extra values of CDOL2 (the authorisation response code 8A).
    cdol2: Mapping[int, bytes] = field(default_factory=dict)
    #: Put the currency into 5F2A in sign mode when the card's IAF asks for it.
    currency_from_iaf: bool = True
    #: Cards without an IPB get the Belgian mix; otherwise such a card is refused.
    belgian_fallback: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _frozen(self.fixed))
        object.__setattr__(self, "cdol2", _frozen(self.cdol2))
        if self.pdol is not None:
            object.__setattr__(self, "pdol", _frozen(self.pdol))
        object.__setattr__(self, "modes", frozenset(self.modes))

    def supports(self, mode: CapMode) -> bool:
        return mode in self.modes

    def values(self, data: TerminalInput, *, iaf: int) -> dict[int, bytes]:
        """The terminal values of one GENERATE AC (before DOL formatting)."""
        if not self.supports(data.mode):
            raise MalformedInput(f"a {self.label} has no {data.mode.value} mode")
        values = dict(self.fixed)
        values[0x9F37] = data.un
        if data.mode is CapMode.SIGN:
            values[0x9F02] = amount_n12(data.amount)
            wants_currency = iaf & IAF_AMOUNT and not iaf & IAF_AMOUNT_ONLY
            if self.currency_from_iaf and wants_currency and data.currency is not None:
                values[0x5F2A] = bytes.fromhex(f"{data.currency:04d}")
        return values


def _fit(tag: int, value: bytes, length: int) -> bytes:
    if len(value) == length:
        return value
    if tag in _NUMERIC:
        return value[-length:] if len(value) > length else value.rjust(length, b"\x00")
    return value[:length] if len(value) > length else value.ljust(length, b"\x00")


def dol_data(entries: Sequence[DolEntry], values: Mapping[int, bytes]) -> bytes:
    """The data for a DOL: each tag's value fitted to its length (EMV Book 3 5.4: numeric
    fields keep their rightmost digits, others their leftmost bytes), zeros when unknown."""
    return b"".join(
        _fit(e.tag, values.get(e.tag, b""), e.length) if e.length else b"" for e in entries
    )


_MODES_UK: Final = frozenset({CapMode.IDENTIFY, CapMode.RESPOND, CapMode.SIGN})
_MODES_VASCO: Final = frozenset({CapMode.IDENTIFY, CapMode.RESPOND, CapMode.TDS})
_VASCO_FIXED: Final = {
    0x95: bytes.fromhex("8000000000"),
    0x9A: bytes.fromhex("000000"),
    0x9F33: bytes.fromhex("208000"),
    0x9F34: bytes.fromhex("010002"),
    0x9F35: bytes.fromhex("34"),
}

#: UK PinSentry-style readers (as python-emv and barclays-pinsentry do it): date 010101,
#: TVR 8000000000, everything else zero, PDOL ignored, one GENERATE AC. Sign mode fills the
#: amount but never the currency: 5F2A stays ``0000`` whatever the card's IAF says, as the
#: Barclays reader and python-emv send it.
PINSENTRY_UK: Final = ReaderProfile(
    name="pinsentry_uk",
    label="UK PinSentry-style reader",
    modes=_MODES_UK,
    fixed={0x95: bytes.fromhex("8000000000"), 0x9A: bytes.fromhex("010101")},
    currency_from_iaf=False,
)

#: Vasco readers with a Mastercard CAP application (doegox/EMV-CAP "CAP" mode).
VASCO_CAP: Final = ReaderProfile(
    name="vasco_cap",
    label="Vasco reader (Mastercard CAP)",
    modes=_MODES_VASCO,
    fixed=_VASCO_FIXED,
    pdol={0x9F35: bytes.fromhex("34")},
    second_generate_ac=True,
    cdol2={0x8A: b"Z3"},
    currency_from_iaf=False,
    belgian_fallback=True,
)

#: Vasco readers with a Visa DPA application: as ``VASCO_CAP`` with the date 010101.
VASCO_DPA: Final = ReaderProfile(
    name="vasco_dpa",
    label="Vasco reader (Visa DPA)",
    modes=_MODES_VASCO,
    fixed={**_VASCO_FIXED, 0x9A: bytes.fromhex("010101")},
    pdol={0x9F35: bytes.fromhex("34")},
    second_generate_ac=True,
    cdol2={0x8A: b"Z3"},
    currency_from_iaf=False,
    belgian_fallback=True,
)

#: Vasco readers with a Belgian payment application (Maestro, Bancontact, Visa): TVR
#: 8000000800, terminal type 37, CVM results zero, response code "Z1".
VASCO_BE_PAYMENT: Final = ReaderProfile(
    name="vasco_be_payment",
    label="Vasco reader (Belgian payment application)",
    modes=_MODES_VASCO,
    fixed={
        **_VASCO_FIXED,
        0x95: bytes.fromhex("8000000800"),
        0x9F34: bytes(3),
        0x9F35: bytes.fromhex("37"),
    },
    pdol={0x9F35: bytes.fromhex("37")},
    second_generate_ac=True,
    cdol2={0x8A: b"Z1"},
    currency_from_iaf=False,
    belgian_fallback=True,
)

_REGISTERED: Final[dict[str, ReaderProfile]] = {
    p.name: p for p in (PINSENTRY_UK, VASCO_CAP, VASCO_DPA, VASCO_BE_PAYMENT)
}
#: The shipped profiles, by name.
SHIPPED_PROFILES: Final = frozenset(_REGISTERED)
#: Every known profile by name: the shipped ones and those a bank registered
#: (:func:`register_profile`, or a definitions file, :mod:`securebox_auth.emv.definitions`).
PROFILES: Final[Mapping[str, ReaderProfile]] = MappingProxyType(_REGISTERED)
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{1,39}")


def register_profile(profile: ReaderProfile) -> ReaderProfile:
    """Make ``profile`` known by its name (card records name their profile). Registering
    the same profile again is harmless; another profile under a known name is refused with
    :class:`~securebox_auth.errors.DefinitionError`, since records already verified with
    the old one would silently change meaning."""
    if not isinstance(profile, ReaderProfile):
        raise DefinitionError("", "a reader profile is a ReaderProfile")
    if not isinstance(profile.name, str) or not _NAME.fullmatch(profile.name):
        raise DefinitionError(
            "", f"a profile name is 2-40 lower-case letters, digits, _: {profile.name!r}"
        )
    known = _REGISTERED.get(profile.name)
    if known is not None and known != profile:
        raise DefinitionError(profile.name, "another reader profile already has this name")
    _REGISTERED[profile.name] = profile
    return profile


def get_profile(name: str) -> ReaderProfile:
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise MalformedInput(f"unknown reader profile {name!r}") from None
