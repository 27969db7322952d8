"""emv/apdu.py and emv/commands.py: the four cases, short and extended, and EMV commands."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.emv import commands
from securebox_auth.emv.apdu import ApduError, CommandApdu, ResponseApdu, StatusWord
from securebox_auth.emv.genac import CryptogramType
from securebox_auth.errors import MalformedInput


@pytest.mark.parametrize(
    ("apdu", "encoded", "case", "extended"),
    [
        (CommandApdu(0x00, 0xA4, 0x04, 0x00), "00A40400", 1, False),
        (CommandApdu(0x80, 0xCA, 0x9F, 0x17, ne=256), "80CA9F1700", 2, False),
        (CommandApdu(0x80, 0xCA, 0x9F, 0x17, ne=5), "80CA9F1705", 2, False),
        (CommandApdu(0x00, 0x20, 0x00, 0x80, b"\x24\x12\x34"), "0020008003241234", 3, False),
        (CommandApdu(0x80, 0xA8, 0x00, 0x00, b"\x83\x00", 256), "80A8000002830000", 4, False),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=257), "00B00000000101", 2, True),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=65536), "00B00000000000", 2, True),
        (CommandApdu(0x00, 0xD6, 0, 0, bytes(256)), "00D6000000" + "0100" + "00" * 256, 3, True),
        (
            CommandApdu(0x00, 0xD6, 0, 0, b"\x01", ne=300),
            "00D6000000" + "0001" + "01" + "012C",
            4,
            True,
        ),
    ],
)
def test_cases_encode_and_decode(
    apdu: CommandApdu, encoded: str, case: int, extended: bool
) -> None:
    assert apdu.encode().hex().upper() == encoded.upper()
    assert apdu.case == case
    assert apdu.extended is extended
    assert CommandApdu.decode(bytes.fromhex(encoded)) == apdu


@pytest.mark.parametrize(
    "raw",
    [
        "00A404",  # no complete header
        "00A4040002A0",  # Lc=2, one byte
        "00A4040002A0000000",  # Lc=2, Le, one extra byte
        "00A404000000",  # an extended marker and one byte
        "00A40400000002AA",  # extended Lc=2, one data byte
        "00A4040000000000",  # extended Lc=0000 with a body
    ],
)
def test_invalid_commands_are_refused(raw: str) -> None:
    with pytest.raises(ApduError):
        CommandApdu.decode(bytes.fromhex(raw))


def test_short_le_00_is_256_and_fields_are_checked() -> None:
    assert CommandApdu.decode(bytes.fromhex("00B0000000")).ne == 256
    with pytest.raises(ApduError):
        CommandApdu(0x100, 0, 0, 0)
    with pytest.raises(ApduError):
        CommandApdu(0, 0, 0, 0, ne=0)
    with pytest.raises(ApduError):
        CommandApdu(0, 0, 0, 0, bytes(65536))
    assert isinstance(ApduError("x"), MalformedInput)


_commands = st.builds(
    CommandApdu,
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.one_of(st.just(b""), st.binary(min_size=1, max_size=300)),
    st.one_of(st.none(), st.integers(1, 65536)),
)


@given(_commands)
def test_round_trip(apdu: CommandApdu) -> None:
    assert CommandApdu.decode(apdu.encode()) == apdu


def test_responses() -> None:
    ok = ResponseApdu.decode(bytes.fromhex("9F1701039000"))
    assert ok.ok
    assert ok.data == bytes.fromhex("9F170103")
    assert ok.sw == StatusWord.OK
    wrong = ResponseApdu.decode(bytes.fromhex("63C2"))
    assert wrong.tries_left() == 2
    assert not wrong.ok
    assert (wrong.sw1, wrong.sw2) == (0x63, 0xC2)
    assert ResponseApdu.status(StatusWord.AUTH_METHOD_BLOCKED).tries_left() is None
    assert ResponseApdu(b"\x01", 0x9000).encode() == bytes.fromhex("019000")
    with pytest.raises(ApduError):
        ResponseApdu.decode(b"\x90")


def test_emv_commands_as_real_readers_send_them() -> None:
    # doegox/EMV-CAP transcripts (SELECT there is case 3; ours adds Le=00, as EMV allows)
    assert commands.select(bytes.fromhex("A0000000048002")).encode().hex().upper() == (
        "00A4040007A000000004800200"
    )
    assert commands.read_record(1, 1).encode().hex().upper() == "00B2010C00"
    assert commands.read_record(2, 4).encode().hex().upper() == "00B2041400"
    assert commands.get_data(0x9F17).encode().hex().upper() == "80CA9F1700"
    assert commands.get_processing_options().encode().hex().upper() == "80A80000028300" + "00"
    assert (
        commands.get_processing_options(b"\x34").encode().hex().upper() == "80A8000003830134" + "00"
    )
    # VERIFY is case 3 (python-emv 1.0.14 wrongly added Le)
    verify = commands.verify_pin("1234")
    assert verify.encode().hex().upper() == "0020008008241234FFFFFFFFFF"
    assert verify.case == 3
    gen = commands.generate_ac(CryptogramType.ARQC, bytes(29))
    assert gen.encode()[:5].hex().upper() == "80AE80001D"
    assert gen.ne == 256


def test_pin_blocks() -> None:
    assert commands.pin_block("123456789012").hex().upper() == "2C123456789012FF"
    assert commands.parse_pin_block(bytes.fromhex("241234FFFFFFFFFF")) == "1234"
    for bad in ("123", "1234567890123", "12a4", ""):
        with pytest.raises(MalformedInput):
            commands.pin_block(bad)
    for block in ("141234FFFFFFFFFF", "231234FFFFFFFFFF", "2412340FFFFFFFFF", "24123AFFFFFFFFFF"):
        with pytest.raises(MalformedInput):
            commands.parse_pin_block(bytes.fromhex(block))


@given(st.from_regex(r"\A[0-9]{4,12}\Z"))
def test_pin_block_round_trip(pin: str) -> None:
    assert commands.parse_pin_block(commands.pin_block(pin)) == pin
