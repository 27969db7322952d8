"""Dynamic linking: the canonical digest an authentication code is bound to (RTS art. 5).

An authentication code for a payment must be specific to its amount and payee, and any change
of either must invalidate it (RTS art. 5(1)). For a batch, the code is specific to the batch
total and to the payees (RTS art. 5(3)(b), EBA Q&A 2018_4435). securebox binds a step-up grant
to a SHA-256 digest over a canonical encoding of that data:

* amounts are integers in the currency's minor unit (ISO 4217 exponent), never floats;
* payees are normalised: an IBAN loses its spaces, is upper-cased and must pass its
  mod-97 check; any other identifier is upper-cased with blanks removed; the two kinds are
  tagged so that they can never collide;
* every field is length-prefixed and the digest starts with a versioned domain tag, so two
  different operations never share an encoding;
* a batch digest covers the currency, the total, the number of payments and the sorted
  multiset of (payee, amount) lines. Adding, removing or changing one payment, or moving an
  amount from one payee to another, changes it; the order of the lines does not (it carries
  no payment meaning). This is stricter than the EBA answer (total + payees), which it
  implies.

Everything here is pure and cheap (one SHA-256 over a few hundred bytes).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

from stdnum import iban

from securebox_auth.errors import MalformedInput

__all__ = [
    "Batch",
    "Linking",
    "Money",
    "OperationRequest",
    "Payment",
    "batch_digest",
    "iban_valid",
    "normalise_payee",
    "payee_digest",
    "payment_digest",
]

_CURRENCY: Final = re.compile(r"[A-Z]{3}")
# ISO 4217 minor units that are not 2; every other three-letter code uses 2.
_EXPONENTS: Final = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
            "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip
_MAX_MINOR: Final = 10**18
_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_OTHER_ID: Final = re.compile(r"[A-Z0-9/?:().,'+\-]{1,70}")
_BLANKS: Final = str.maketrans("", "", " \t\u00a0")


class Linking(enum.Enum):
    """What a step-up grant is bound to."""

    NONE = "none"
    #: the payee being added or changed (trusted-payee list, RTS art. 13)
    PAYEE = "payee"
    #: amount and payee of one payment (RTS art. 5(1))
    AMOUNT_PAYEE = "amount_payee"
    #: total and payees of a batch (RTS art. 5(3)(b), EBA Q&A 2018_4435)
    BATCH = "batch"


def _exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units of an ISO 4217 currency (``Money(125050, "EUR")`` is
    1 250.50 EUR). Always positive."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not _CURRENCY.fullmatch(self.currency):
            raise MalformedInput("a currency is an ISO 4217 code of three capital letters")
        if type(self.minor) is not int or not 0 < self.minor < _MAX_MINOR:
            raise MalformedInput("an amount is a positive whole number of minor units")

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> Money:
        """Parse ``"1250.50"`` (or an int or Decimal) in ``currency``. More decimals than
        the currency has, floats, signs and exponents are refused."""
        if not isinstance(currency, str):
            raise MalformedInput("a currency is text")
        code = currency.strip().upper()
        if not _CURRENCY.fullmatch(code):
            raise MalformedInput("a currency is an ISO 4217 code of three capital letters")
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise MalformedInput('an amount is written as text, for instance "1250.50"')
        text = str(amount).strip()
        if not re.fullmatch(r"[0-9]{1,18}(\.[0-9]{1,4})?", text):
            raise MalformedInput("an amount is digits with an optional decimal point")
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern excludes it
            raise MalformedInput("unreadable amount") from None
        scaled = value.scaleb(_exponent(code))
        if scaled != scaled.to_integral_value():
            raise MalformedInput(f"{code} amounts have at most {_exponent(code)} decimals")
        return cls(int(scaled), code)

    def __str__(self) -> str:
        exp = _exponent(self.currency)
        if exp == 0:
            return f"{self.minor} {self.currency}"
        units, rest = divmod(self.minor, 10**exp)
        return f"{units}.{rest:0{exp}d} {self.currency}"


def iban_valid(text: str) -> bool:
    """True when ``text`` (already without spaces, upper-case) is an IBAN: the length and
    layout of its country's BBAN and the mod-97 check digits (``stdnum.iban``; national
    checks that consult a list of banks are left out, so a new bank is never refused)."""
    return isinstance(text, str) and _iban_checked(text)


@functools.lru_cache(maxsize=512)
def _iban_checked(text: str) -> bool:
    # stdnum's check costs 30 to 150 µs (its country table is searched in Python), and a
    # step-up's payee is checked again each time its stored flow is read: the answers for
    # the last 512 texts are kept (payee identifiers, held in those flows anyway).
    return bool(_IBAN.fullmatch(text)) and bool(iban.is_valid(text, check_country=False))


def normalise_payee(raw: str) -> str:
    """The canonical form of a payee: ``IBAN:FR76...`` or ``ID:...`` (idempotent).

    Text that looks like an IBAN (two letters, two check digits) must pass its check: a typo
    is refused rather than silently becoming another payee. An explicit ``ID:`` prefix says
    the text is not an IBAN: it is never IBAN-checked, and ``ID:FR76...`` and ``FR76...`` are
    two different payees (the kinds are tagged and never collide).
    """
    if not isinstance(raw, str):
        raise MalformedInput("a payee is text")
    if len(raw) > 100:
        raise MalformedInput("a payee identifier is too long")
    text = raw.translate(_BLANKS).upper()
    explicit_id = text.startswith("ID:")
    if text.startswith("IBAN:"):
        text = text[5:]
        if not iban_valid(text):
            raise MalformedInput("this IBAN fails its check digits")
        return f"IBAN:{text}"
    if explicit_id:
        text = text[3:]
    if not text:
        raise MalformedInput("a payee identifier is empty")
    # An explicit ``ID:`` is the caller's word that this is not an IBAN: no IBAN check.
    if not explicit_id and re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", text):
        if not iban_valid(text):
            raise MalformedInput("this IBAN fails its check digits")
        return f"IBAN:{text}"
    if not _OTHER_ID.fullmatch(text):
        raise MalformedInput("a payee identifier is 1 to 70 letters, digits or punctuation")
    return f"ID:{text}"


@dataclass(frozen=True, slots=True)
class Payment:
    """One credit transfer: an amount to a payee (``payee`` is normalised on creation)."""

    amount: Money
    payee: str
    #: The dynamic-linking digest of this payment (see :func:`payment_digest`), computed on
    #: creation. An attribute, like ``Challenge.digest`` and ``Grant.digest``.
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Money):
            raise MalformedInput("a payment amount is a Money value")
        payee = normalise_payee(self.payee)
        object.__setattr__(self, "payee", payee)
        object.__setattr__(self, "digest", _payment_digest(self.amount, payee))


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of payment orders (a "remise"), signed as one."""

    payments: tuple[Payment, ...]
    #: The dynamic-linking digest of this batch (see :func:`batch_digest`).
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.payments, tuple) or not self.payments:
            raise MalformedInput("a batch holds at least one payment")
        if not all(isinstance(p, Payment) for p in self.payments):
            raise MalformedInput("a batch holds Payment values")
        currencies = {p.amount.currency for p in self.payments}
        if len(currencies) != 1:
            raise MalformedInput("every payment of a batch is in the same currency")
        object.__setattr__(self, "digest", batch_digest(self))

    @classmethod
    def of(cls, payments: Iterable[Payment]) -> Batch:
        return cls(tuple(payments))

    @property
    def currency(self) -> str:
        return self.payments[0].amount.currency

    @property
    def total(self) -> Money:
        return Money(sum(p.amount.minor for p in self.payments), self.currency)

    @property
    def payees(self) -> tuple[str, ...]:
        """The sorted multiset of payees."""
        return tuple(sorted(p.payee for p in self.payments))


def _field(value: str | int) -> bytes:
    data = str(value).encode()
    return len(data).to_bytes(4, "big") + data


def _payment_digest(amount: Money, payee: str) -> str:
    h = hashlib.sha256(b"securebox/link/payment/v1")
    h.update(_field(amount.currency) + _field(amount.minor) + _field(payee))
    return h.hexdigest()


def _payee_digest(payee: str) -> str:
    return hashlib.sha256(b"securebox/link/payee/v1" + _field(payee)).hexdigest()


def payment_digest(amount: Money, payee: str) -> str:
    """SHA-256 (hex) binding one payment's amount and (normalised) payee."""
    return _payment_digest(amount, normalise_payee(payee))


def payee_digest(payee: str) -> str:
    """SHA-256 (hex) binding a payee alone (adding one to the trusted-payee list)."""
    return _payee_digest(normalise_payee(payee))


def batch_digest(batch: Batch) -> str:
    """SHA-256 (hex) binding a batch's total, currency and sorted (payee, amount) lines."""
    total = batch.total
    h = hashlib.sha256(b"securebox/link/batch/v1")
    h.update(_field(total.currency) + _field(total.minor) + _field(len(batch.payments)))
    for payee, minor in sorted((p.payee, p.amount.minor) for p in batch.payments):
        h.update(_field(payee) + _field(minor))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """An operation the user asks for, with the data a linked step-up is bound to:
    ``payment`` (amount + payee) for a transfer, ``payee`` for a change of the payee list,
    ``batch`` for a batch signature. Digests are computed once, here."""

    operation: str
    payment: Payment | None = None
    payee: str | None = None
    batch: Batch | None = None
    _payee_digest: str | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.operation, str):
            raise MalformedInput("an operation is named by text")
        if self.payment is not None and not isinstance(self.payment, Payment):
            raise MalformedInput("payment is a Payment value")
        if self.batch is not None and not isinstance(self.batch, Batch):
            raise MalformedInput("batch is a Batch value")
        payee = self.payee
        if payee is None and self.payment is not None:
            payee = self.payment.payee
        if payee is not None:
            payee = normalise_payee(payee)
            if self.payee is not None:
                object.__setattr__(self, "payee", payee)
            object.__setattr__(self, "_payee_digest", _payee_digest(payee))

    def digest_for(self, linking: Linking) -> str | None:
        """The digest for a kind of linking; raises :class:`MalformedInput` when the data it
        needs is missing."""
        if linking is Linking.NONE:
            return None
        if linking is Linking.AMOUNT_PAYEE:
            if self.payment is None:
                raise MalformedInput(f"{self.operation} is linked to an amount and a payee")
            return self.payment.digest
        if linking is Linking.BATCH:
            if self.batch is None:
                raise MalformedInput(f"{self.operation} is linked to a batch")
            return self.batch.digest
        if self._payee_digest is None:
            raise MalformedInput(f"{self.operation} is linked to a payee")
        return self._payee_digest

    def display(self) -> tuple[tuple[str, str], ...]:
        """What the user must see before authenticating (RTS art. 5(1)(a), 5(2))."""
        if self.payment is not None:
            return (("amount", str(self.payment.amount)), ("payee", self.payment.payee))
        if self.batch is not None:
            return (
                ("batch total", str(self.batch.total)),
                ("payments", str(len(self.batch.payments))),
                ("payees", ", ".join(self.batch.payees)),
            )
        if self.payee is not None:
            return (("payee", self.payee),)
        return ()
