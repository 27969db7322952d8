"""The answer to GENERATE AC, in its two formats (EMV Book 3 section 6.5.5.4).

* Format 1: ``80 L CID(1) ‖ ATC(2) ‖ AC(8) ‖ IAD(0-32)``, values without tags; a reader
  cuts them at fixed offsets.
* Format 2: ``77 L {9F27 CID, 9F36 ATC, 9F26 AC, [9F10 IAD], ...}``, tagged, in any order.

The cryptogram type is in the two top bits of the CID: ``00`` AAC (declined), ``40`` TC
(approved offline), ``80`` ARQC (go online). CAP readers only show a code for an ARQC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from securebox_auth.emv.tlv import Tlv, TlvError, decode_one, find

__all__ = ["CryptogramType", "GenerateAcResponse"]

_MAX_IAD: Final = 32


class CryptogramType(enum.IntEnum):
    """The cryptogram a GENERATE AC asks for (P1) or returns (CID bits 8-7)."""

    AAC = 0x00
    TC = 0x40
    ARQC = 0x80

    @classmethod
    def of_cid(cls, cid: int) -> CryptogramType:
        bits = cid & 0xC0
        if bits == 0xC0:
            raise TlvError("CID bits 11 are reserved")
        return cls(bits)


@dataclass(frozen=True, slots=True)
class GenerateAcResponse:
    """What a card returns from GENERATE AC."""

    cid: int
    atc: int
    ac: bytes
    iad: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.cid <= 0xFF:
            raise TlvError("a CID is one byte")
        if not 0 <= self.atc <= 0xFFFF:
            raise TlvError("an ATC is two bytes")
        if len(self.ac) != 8:
            raise TlvError("an application cryptogram has 8 bytes")
        if len(self.iad) > _MAX_IAD:
            raise TlvError("issuer application data have at most 32 bytes")

    @property
    def cryptogram_type(self) -> CryptogramType:
        return CryptogramType.of_cid(self.cid)

    def encode_format1(self) -> bytes:
        body = bytes((self.cid,)) + self.atc.to_bytes(2, "big") + self.ac + self.iad
        return Tlv(0x80, body).encode()

    def encode_format2(self) -> bytes:
        children = [
            Tlv(0x9F27, bytes((self.cid,))),
            Tlv(0x9F36, self.atc.to_bytes(2, "big")),
            Tlv(0x9F26, self.ac),
        ]
        if self.iad:
            children.append(Tlv(0x9F10, self.iad))
        return Tlv.of(0x77, *children).encode()

    @classmethod
    def parse(cls, data: bytes) -> GenerateAcResponse:
        """Parse either format (a response's data field, status word removed)."""
        obj = decode_one(data)
        if obj.tag == 0x80:
            body = obj.value
            if len(body) < 11:
                raise TlvError("a format 1 GENERATE AC answer has at least 11 bytes")
            return cls(body[0], int.from_bytes(body[1:3], "big"), body[3:11], body[11:])
        if obj.tag != 0x77:
            raise TlvError(f"a GENERATE AC answer is tag 80 or 77, not {obj.tag:X}")
        children = obj.children()
        values = []
        for tag, size in ((0x9F27, 1), (0x9F36, 2), (0x9F26, 8)):
            found = find(children, tag)
            if found is None or len(found.value) != size:
                raise TlvError(f"a format 2 answer needs a {size}-byte tag {tag:X}")
            values.append(found.value)
        iad = find(children, 0x9F10)
        return cls(
            values[0][0],
            int.from_bytes(values[1], "big"),
            values[2],
            iad.value if iad is not None else b"",
        )
