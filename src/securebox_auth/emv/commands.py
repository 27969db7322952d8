"""The EMV commands a CAP reader sends, and the plaintext PIN block.

Every builder returns a :class:`~securebox_auth.emv.apdu.CommandApdu`:

===================  ==========================  =====
command              header                      case
===================  ==========================  =====
SELECT by name       ``00 A4 04 00``             4
READ RECORD          ``00 B2 rec (SFI<<3)|4``    2
GET PROCESSING OPT.  ``80 A8 00 00``             4
GET DATA             ``80 CA tag``               2
VERIFY (plain PIN)   ``00 20 00 80``             3
GENERATE AC          ``80 AE P1 00``             4
===================  ==========================  =====

VERIFY carries no Le: it returns no data (python-emv 1.0.14 sent one, a bug fixed later).
The PIN block is ISO 9564 format 2 (EMV Book 3 6.5.12): nibble ``2``, the PIN length, the
digits, ``F`` fillers up to 8 bytes.
"""

from __future__ import annotations

from typing import Final

from securebox_auth.emv.apdu import CommandApdu
from securebox_auth.emv.genac import CryptogramType
from securebox_auth.emv.tlv import Tlv, tag_bytes
from securebox_auth.errors import MalformedInput

__all__ = [
    "PSE",
    "generate_ac",
    "get_data",
    "get_processing_options",
    "parse_pin_block",
    "pin_block",
    "read_record",
    "select",
    "verify_pin",
]

#: The payment system environment's directory name (contact cards).
PSE: Final = b"1PAY.SYS.DDF01"
_MIN_PIN: Final = 4
_MAX_PIN: Final = 12


def select(name: bytes, *, first: bool = True) -> CommandApdu:
    """SELECT by DF name (an AID or the PSE); ``first=False`` asks for the next occurrence."""
    if not 1 <= len(name) <= 16:
        raise MalformedInput("a DF name has 1-16 bytes")
    return CommandApdu(0x00, 0xA4, 0x04, 0x00 if first else 0x02, name, ne=256)


def read_record(sfi: int, record: int) -> CommandApdu:
    if not 1 <= sfi <= 30 or not 1 <= record <= 0xFE:
        raise MalformedInput("SFI 1-30, record 1-254")
    return CommandApdu(0x00, 0xB2, record, (sfi << 3) | 0x04, ne=256)


def get_processing_options(pdol_data: bytes = b"") -> CommandApdu:
    return CommandApdu(0x80, 0xA8, 0x00, 0x00, Tlv(0x83, pdol_data).encode(), ne=256)


def get_data(tag: int) -> CommandApdu:
    raw = tag_bytes(tag)
    if len(raw) > 2:
        raise MalformedInput("GET DATA names a 1- or 2-byte tag")
    raw = raw.rjust(2, b"\x00")
    return CommandApdu(0x80, 0xCA, raw[0], raw[1], ne=256)


def pin_block(pin: str) -> bytes:
    """The ISO 9564 format 2 block of a 4-12 digit PIN."""
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit()):
        raise MalformedInput("a PIN is made of digits")
    if not _MIN_PIN <= len(pin) <= _MAX_PIN:
        raise MalformedInput("a PIN has 4 to 12 digits")
    return bytes.fromhex(f"2{len(pin):X}{pin}".ljust(16, "F"))


def parse_pin_block(block: bytes) -> str:
    """The PIN inside a format 2 block; raises :class:`MalformedInput` otherwise."""
    text = block.hex().upper()
    if len(block) != 8 or text[0] != "2":
        raise MalformedInput("not an ISO 9564 format 2 PIN block")
    length = int(text[1], 16)
    digits, filler = text[2 : 2 + length], text[2 + length :]
    if not _MIN_PIN <= length <= _MAX_PIN or not digits.isdigit() or set(filler) - {"F"}:
        raise MalformedInput("not an ISO 9564 format 2 PIN block")
    return digits


def verify_pin(pin: str) -> CommandApdu:
    """VERIFY with a plaintext offline PIN (P2 ``80``)."""
    return CommandApdu(0x00, 0x20, 0x00, 0x80, pin_block(pin))


def generate_ac(kind: CryptogramType, dol_data: bytes) -> CommandApdu:
    """GENERATE AC asking for ``kind`` over the CDOL1 or CDOL2 data."""
    return CommandApdu(0x80, 0xAE, int(kind), 0x00, dol_data, ne=256)
