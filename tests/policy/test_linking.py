"""Dynamic linking (policy/linking.py): amounts, payees, digests."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_auth.policy.linking import (
    Batch,
    Linking,
    Money,
    OperationRequest,
    Payment,
    batch_digest,
    iban_valid,
    normalise_payee,
    payee_digest,
    payment_digest,
)

from .support import IBAN_A, IBAN_B, IBAN_C


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "text"),
    [
        ("1250.50", "EUR", 125050, "1250.50 EUR"),
        ("1250.5", "eur", 125050, "1250.50 EUR"),
        ("1250", "EUR", 125000, "1250.00 EUR"),
        (1250, "EUR", 125000, "1250.00 EUR"),
        (Decimal("0.01"), "EUR", 1, "0.01 EUR"),
        ("100", "JPY", 100, "100 JPY"),
        ("1.234", "BHD", 1234, "1.234 BHD"),
    ],
)
def test_money_parse(amount: str | int | Decimal, currency: str, minor: int, text: str) -> None:
    money = Money.parse(amount, currency)
    assert money.minor == minor
    assert str(money) == text


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.234", "EUR"),  # too many decimals
        ("1.5", "JPY"),
        ("-5", "EUR"),
        ("0", "EUR"),
        ("1e3", "EUR"),
        ("12,50", "EUR"),
        ("10", "EURO"),
        ("10", "€"),
        (True, "EUR"),
        (1.5, "EUR"),
    ],
)
def test_money_refuses(amount: object, currency: str) -> None:
    with pytest.raises(MalformedInput):
        Money.parse(amount, currency)  # type: ignore[arg-type]


def test_iban() -> None:
    assert iban_valid(IBAN_A)
    assert iban_valid(IBAN_B)
    assert iban_valid(IBAN_C)
    assert not iban_valid("FR7630006000011234567890188")


def test_iban_length_is_the_country_s() -> None:
    # A German IBAN is 22 characters. Appending digits and recomputing the mod-97 check
    # digits gives a string that passes mod 97 alone: the length rule must refuse it.
    body = "370400440532013000" + "7"
    check = 98 - int("".join(str(int(ch, 36)) for ch in body + "DE00")) % 97
    long_de = f"DE{check:02d}{body}"
    assert len(long_de) == 23
    assert not iban_valid(long_de)
    with pytest.raises(MalformedInput):
        normalise_payee(long_de)
    assert normalise_payee(" fr76 3000 6000 0112 3456 7890 189 ") == f"IBAN:{IBAN_A}"
    assert normalise_payee(normalise_payee(IBAN_A)) == f"IBAN:{IBAN_A}"
    assert normalise_payee("acme-supplier/42") == "ID:ACME-SUPPLIER/42"
    assert normalise_payee("ID:ACME") == normalise_payee("acme")
    with pytest.raises(MalformedInput, match="check digits"):
        normalise_payee("FR7630006000011234567890188")
    with pytest.raises(MalformedInput, match="check digits"):
        normalise_payee("IBAN:FR7630006000011234567890188")
    for bad in ("", "   ", "x" * 101, "payee\n", "é"):
        with pytest.raises(MalformedInput):
            normalise_payee(bad)


def _field(value: str | int) -> bytes:
    data = str(value).encode()
    return len(data).to_bytes(4, "big") + data


def test_digest_known_answers() -> None:
    # The canonical encoding, written out: changing it breaks every grant in flight.
    payment = hashlib.sha256(
        b"securebox/link/payment/v1" + _field("EUR") + _field(15000) + _field(f"IBAN:{IBAN_A}")
    ).hexdigest()
    assert payment == "b0a651c67a4fcbd835e1385def7595c51e29385fd50bd4af6ae93cf8c7b26213"
    assert payment_digest(Money.parse("150.00", "EUR"), IBAN_A) == payment
    assert Payment(Money(15000, "EUR"), IBAN_A.lower()).digest == payment
    assert payee_digest(IBAN_A) == (
        "f37bce276b68d88ca5b3e594824757b54ea271de869a4d582850dd8938160510"
    )
    batch = hashlib.sha256(
        b"securebox/link/batch/v1"
        + _field("EUR")
        + _field(75000)
        + _field(2)
        + _field(f"IBAN:{IBAN_B}")
        + _field(25000)
        + _field(f"IBAN:{IBAN_A}")
        + _field(50000)
    ).hexdigest()
    assert batch == "643d52e3d1a6a5b8e79baf1a993cf0b36f79feaa39f38ecbb14d9f7dec60e069"
    assert _batch((IBAN_A, "500.00"), (IBAN_B, "250.00")).digest == batch


def test_payment_digest_binds_amount_currency_payee() -> None:
    base = payment_digest(Money.parse("150.00", "EUR"), IBAN_A)
    assert payment_digest(Money.parse("150.01", "EUR"), IBAN_A) != base
    assert payment_digest(Money.parse("150.00", "CHF"), IBAN_A) != base
    assert payment_digest(Money.parse("150.00", "EUR"), IBAN_B) != base
    assert payee_digest(IBAN_A) != base
    assert payee_digest(IBAN_A) == payee_digest(f"IBAN:{IBAN_A}")


def _batch(*lines: tuple[str, str]) -> Batch:
    return Batch.of(Payment(Money.parse(amount, "EUR"), payee) for payee, amount in lines)


def test_batch_digest() -> None:
    signed = _batch((IBAN_A, "500.00"), (IBAN_B, "250.00"))
    assert signed.total == Money(75000, "EUR")
    assert signed.digest == batch_digest(signed)
    reordered = _batch((IBAN_B, "250.00"), (IBAN_A, "500.00"))
    assert reordered.digest == signed.digest
    changed = [
        _batch((IBAN_A, "500.00"), (IBAN_B, "250.00"), (IBAN_C, "10.00")),  # payee added
        _batch((IBAN_A, "500.00")),  # payee removed
        _batch((IBAN_A, "500.00"), (IBAN_C, "250.00")),  # payee replaced
        _batch((IBAN_A, "500.00"), (IBAN_B, "250.01")),  # amount changed
        _batch((IBAN_A, "250.00"), (IBAN_B, "500.00")),  # same total and payees, swapped
        _batch((IBAN_A, "500.00"), (IBAN_B, "250.00"), (IBAN_B, "0.01")),  # duplicate payee
    ]
    assert len({b.digest for b in changed} | {signed.digest}) == len(changed) + 1


def test_batch_refuses() -> None:
    with pytest.raises(MalformedInput):
        Batch(())
    with pytest.raises(MalformedInput, match="same currency"):
        Batch((Payment(Money(1, "EUR"), IBAN_A), Payment(Money(1, "CHF"), IBAN_B)))


def test_request_digest_needs_its_data() -> None:
    request = OperationRequest("sepa_instant_transfer")
    assert request.digest_for(Linking.NONE) is None
    for linking in (Linking.AMOUNT_PAYEE, Linking.BATCH, Linking.PAYEE):
        with pytest.raises(MalformedInput):
            request.digest_for(linking)
    with_payment = OperationRequest("x", payment=Payment(Money(100, "EUR"), IBAN_A))
    assert with_payment.digest_for(Linking.PAYEE) == payee_digest(IBAN_A)
    assert with_payment.display() == (("amount", "1.00 EUR"), ("payee", f"IBAN:{IBAN_A}"))


lines = st.lists(
    st.tuples(
        st.sampled_from([IBAN_A, IBAN_B, IBAN_C, "acme", "globex"]),
        st.integers(min_value=1, max_value=10**9),
    ),
    min_size=1,
    max_size=8,
)


@given(lines=lines, data=st.data())
def test_batch_digest_ignores_order(lines: list[tuple[str, int]], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(lines))
    a = Batch.of(Payment(Money(minor, "EUR"), payee) for payee, minor in lines)
    b = Batch.of(Payment(Money(minor, "EUR"), payee) for payee, minor in shuffled)
    assert a.digest == b.digest


@given(lines=lines, data=st.data())
def test_any_change_changes_the_batch_digest(
    lines: list[tuple[str, int]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    kind = data.draw(st.sampled_from(["add", "remove", "amount", "payee"]))
    changed = list(lines)
    payee, minor = changed[index]
    if kind == "add":
        changed.append((data.draw(st.sampled_from([IBAN_A, "initech"])), 1))
    elif kind == "remove":
        del changed[index]
    elif kind == "amount":
        changed[index] = (payee, minor + data.draw(st.integers(min_value=1, max_value=100)))
    else:
        changed[index] = ("someone-else", minor)
    original = Batch.of(Payment(Money(m, "EUR"), p) for p, m in lines)
    if not changed:
        return  # removing the only payment leaves no batch at all
    modified = Batch.of(Payment(Money(m, "EUR"), p) for p, m in changed)
    assert modified.digest != original.digest


def test_an_explicit_id_prefix_never_goes_through_the_iban_check() -> None:
    # "AA000" looks like an IBAN (two letters, two digits) but the caller said it is not one.
    assert normalise_payee("ID:AA000") == "ID:AA000"
    assert normalise_payee("id: aa 000") == "ID:AA000"
    assert normalise_payee(normalise_payee("ID:AA000")) == "ID:AA000"
    # Without the prefix, IBAN-shaped text must still pass its check digits.
    with pytest.raises(MalformedInput, match="check digits"):
        normalise_payee("AA000")
    # The two kinds stay apart: a valid IBAN given as an identifier is another payee.
    assert normalise_payee(f"ID:{IBAN_A}") == f"ID:{IBAN_A}"
    assert payee_digest(f"ID:{IBAN_A}") != payee_digest(IBAN_A)


@given(
    st.one_of(
        st.from_regex(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", fullmatch=True),  # IBAN-shaped
        st.from_regex(r"[A-Z0-9/?:().,'+\-]{1,70}", fullmatch=True),
    )
)
def test_an_id_payee_is_kept_as_given(identifier: str) -> None:
    normal = normalise_payee(f"ID:{identifier}")
    assert normal == f"ID:{identifier}"
    assert normalise_payee(normal) == normal
