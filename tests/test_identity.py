"""identity.py: client identifier, user number, principal, SIREN."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, InvalidIdentifier
from securebox_auth.identity import (
    ClientId,
    IdentifierFormat,
    Principal,
    Siren,
    UserNumber,
    luhn_valid,
)

#: Full-width digits (U+FF10..U+FF19): digits to Unicode, not to the formats.
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))

client_ids = st.from_regex(r"[0-9]{6,12}", fullmatch=True)
user_numbers = st.from_regex(r"[0-9]{1,4}", fullmatch=True)


# -- client identifier and user number -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456789", "123456789"),
        ("  123456789\t", "123456789"),
        ("123 456 789", "123456789"),
        ("123-456.789", "123456789"),
        ("123456", "123456"),
        ("123456789012", "123456789012"),
    ],
)
def test_client_id_normalises(raw: str, expected: str) -> None:
    assert ClientId.parse(raw) == ClientId(expected)
    assert str(ClientId.parse(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",  # too short for the default format
        "1234567890123",  # too long for the default format
        "12345678A",
        "123456789".translate(FULLWIDTH),  # full-width digits are not ASCII digits
        "١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits
        "123456789:01",
        "1" * 257,
    ],
)
def test_client_id_refuses_bad_text(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        ClientId.parse(raw)


@pytest.mark.parametrize("raw", [None, 123456789, b"123456789", ["123456789"], 1.5])
def test_identifiers_refuse_non_text(raw: object) -> None:
    with pytest.raises(InvalidIdentifier):
        ClientId.parse(raw)
    with pytest.raises(InvalidIdentifier):
        UserNumber.parse(raw)


def test_too_long_input_is_refused_before_normalisation() -> None:
    # 300 spaces around a valid value would normalise to a valid identifier
    with pytest.raises(InvalidIdentifier, match="too long"):
        ClientId.parse(" " * 150 + "123456789" + " " * 150)


def test_user_number_keeps_leading_zeros() -> None:
    assert UserNumber.parse("01") == UserNumber("01")
    assert UserNumber.parse("01") != UserNumber.parse("1")
    assert UserNumber.parse(" 0 1 ").value == "01"


@pytest.mark.parametrize("raw", ["", "12345", "1a", "-", "+1"])
def test_user_number_refuses_bad_text(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        UserNumber.parse(raw)


@pytest.mark.parametrize("value", ["", "abc", "12 34", "12:34", "A" * 65, "é"])
def test_direct_construction_checks_the_canonical_form(value: str) -> None:
    with pytest.raises(InvalidIdentifier):
        ClientId(value)
    with pytest.raises(InvalidIdentifier):
        UserNumber(value)


def test_direct_construction_refuses_non_text() -> None:
    with pytest.raises(InvalidIdentifier):
        ClientId(123456789)  # type: ignore[arg-type]


def test_errors_never_echo_the_input() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        ClientId.parse("98765X321")
    assert "98765X321" not in str(exc.value)
    assert exc.value.code == "invalid_identifier"


# -- custom formats ----------------------------------------------------------------------


def test_custom_alphanumeric_format() -> None:
    fmt = IdentifierFormat(label="contract", pattern=r"[A-Z]{2}[0-9]{6}", example="AB123456")
    assert ClientId.parse("ab-123 456", fmt).value == "AB123456"
    with pytest.raises(InvalidIdentifier, match="for example AB123456"):
        ClientId.parse("123456789", fmt)
    # the default format still refuses letters
    with pytest.raises(InvalidIdentifier):
        ClientId.parse("AB123456")


def test_format_without_separator_folding() -> None:
    fmt = IdentifierFormat(label="strict", pattern=r"[0-9]{6}", ignore_separators=False)
    assert ClientId.parse(" 123456 ", fmt).value == "123456"
    with pytest.raises(InvalidIdentifier):
        ClientId.parse("123-456", fmt)
    with pytest.raises(InvalidIdentifier):
        ClientId.parse("123 456", fmt)


def test_a_permissive_pattern_cannot_let_unsafe_characters_through() -> None:
    fmt = IdentifierFormat(label="loose", pattern=r".{1,200}", ignore_separators=False)
    assert ClientId.parse("ABC123", fmt).value == "ABC123"
    for raw in ("A:B", "A/B", "A" * 65, "A B"):
        with pytest.raises(InvalidIdentifier):
            ClientId.parse(raw, fmt)


def test_principal_parse_with_custom_formats() -> None:
    client = IdentifierFormat(label="contract", pattern=r"[A-Z]{2}[0-9]{6}")
    user = IdentifierFormat(label="user", pattern=r"U[0-9]{3}")
    principal = Principal.parse("ab123456", "u007", client_format=client, user_format=user)
    assert principal.key == "AB123456:U007"
    with pytest.raises(InvalidIdentifier):
        Principal.parse("ab123456", "007", client_format=client, user_format=user)


def test_invalid_format_pattern_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        IdentifierFormat(label="broken", pattern="[0-9")


def test_format_example_must_match_its_pattern() -> None:
    with pytest.raises(ConfigurationError, match="example"):
        IdentifierFormat(label="bad", pattern=r"[0-9]{6}", example="12345")


# -- principal ---------------------------------------------------------------------------


def test_principal_key_and_str() -> None:
    principal = Principal.parse(" 123 456 789 ", "01")
    assert principal.key == "123456789:01"
    assert str(principal) == "123456789:01"
    assert principal == Principal(ClientId("123456789"), UserNumber("01"))
    assert principal != Principal.parse("123456789", "1")


@given(client=client_ids, user=user_numbers)
def test_principal_key_round_trip(client: str, user: str) -> None:
    principal = Principal.parse(client, user)
    assert Principal.from_key(principal.key) == principal
    assert Principal.from_key(principal.key).key == principal.key


@pytest.mark.parametrize("key", ["123456789", "", ":", "123456789:", ":01", "1:2:3", "abc:01"])
def test_principal_from_bad_key(key: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Principal.from_key(key)


def test_principal_refuses_raw_strings() -> None:
    with pytest.raises(InvalidIdentifier):
        Principal("123456789", "01")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifier):
        Principal(UserNumber("01"), ClientId("123456789"))  # type: ignore[arg-type]


def test_principal_parse_reports_bad_parts() -> None:
    with pytest.raises(InvalidIdentifier):
        Principal.parse("123456789", "01234")
    with pytest.raises(InvalidIdentifier):
        Principal.parse(None, "01")


# -- SIREN -------------------------------------------------------------------------------

# SIRENs of real registered companies (all Luhn-valid).
KNOWN_SIRENS = ["732829320", "552100554", "443061841", "542107651", "356000000"]


@pytest.mark.parametrize("value", KNOWN_SIRENS)
def test_known_sirens_are_accepted(value: str) -> None:
    siren = Siren.parse(value)
    assert siren.value == value
    assert str(siren) == value
    assert luhn_valid(value)


@pytest.mark.parametrize(
    "value", ["732829321", "552100555", "443061842", "123456789", "000000001", "999999999"]
)
def test_sirens_failing_luhn_are_refused(value: str) -> None:
    assert not luhn_valid(value)
    with pytest.raises(InvalidIdentifier, match="check digit"):
        Siren.parse(value)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "73282932",
        "7328293200",
        "73282932A",
        "732829320".translate(FULLWIDTH),
        "732-829-320",
    ],
)
def test_sirens_of_the_wrong_shape_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Siren.parse(raw)


@pytest.mark.parametrize("raw", [None, 732829320, b"732829320"])
def test_siren_refuses_non_text(raw: object) -> None:
    with pytest.raises(InvalidIdentifier):
        Siren.parse(raw)


def test_siren_spaces_are_removed_and_formatted_back() -> None:
    assert Siren.parse(" 732 829 320 ").value == "732829320"
    assert Siren.parse("732\u00a0829\u00a0320").value == "732829320"
    assert Siren.parse("732829320").formatted() == "732 829 320"
    with pytest.raises(InvalidIdentifier):
        Siren.parse("7" * 65)


def test_siren_constructor_does_not_normalise() -> None:
    with pytest.raises(InvalidIdentifier):
        Siren("732 829 320")


def _luhn_check_digit(payload: str) -> str:
    """Independent Luhn: the digit that makes ``payload + digit`` valid."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        value = int(char)
        if position % 2 == 0:  # doubled: these become odd positions once the digit is appended
            value = value * 2
            value = value - 9 if value > 9 else value
        total += value
    return str((10 - total % 10) % 10)


@given(payload=st.from_regex(r"[0-9]{8}", fullmatch=True))
def test_any_payload_with_its_luhn_digit_is_a_siren(payload: str) -> None:
    value = payload + _luhn_check_digit(payload)
    assert Siren.parse(value).value == value


@given(
    payload=st.from_regex(r"[0-9]{8}", fullmatch=True),
    position=st.integers(0, 8),
    delta=st.integers(1, 9),
)
def test_changing_one_digit_breaks_the_siren(payload: str, position: int, delta: int) -> None:
    value = payload + _luhn_check_digit(payload)
    digits = list(value)
    digits[position] = str((int(digits[position]) + delta) % 10)
    with pytest.raises(InvalidIdentifier):
        Siren.parse("".join(digits))


@pytest.mark.parametrize("value", ["", "12a", "٣", "0"])
def test_luhn_edge_cases(value: str) -> None:
    assert luhn_valid(value) is (value == "0")
