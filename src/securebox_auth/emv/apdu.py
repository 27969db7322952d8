"""Command and response APDUs (ISO/IEC 7816-3 12.1, 7816-4 5.1).

A command has a 4-byte header (CLA INS P1 P2), optional data (``Lc``) and an optional
expected response length ``Ne`` (encoded as ``Le``). The four cases:

=======  ============  ==================================================
case 1   no data       no Le
case 2   no data       Le
case 3   data          no Le
case 4   data          Le
=======  ============  ==================================================

Short encodings carry up to 255 data bytes and ``Ne`` up to 256 (``Le = 00``); longer ones
use the extended form (a ``00`` byte, then 2-byte lengths; ``Le = 0000`` means 65536).
:meth:`CommandApdu.decode` accepts exactly the byte strings that ISO 7816-3 12.1.3 allows
and raises :class:`ApduError` for anything else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import MalformedInput

__all__ = [
    "ApduError",
    "CommandApdu",
    "ResponseApdu",
    "StatusWord",
]

_SHORT_NC: Final = 255
_SHORT_NE: Final = 256
_EXT_MAX: Final = 65535
_EXT_NE: Final = 65536


class ApduError(MalformedInput):
    """Bytes that are not a valid APDU."""

    code = "malformed_apdu"


class StatusWord(enum.IntEnum):
    """The status words this package produces or acts on."""

    OK = 0x9000
    #: ``63Cx``: wrong PIN, ``x`` tries left (use :meth:`ResponseApdu.tries_left`).
    WRONG_PIN = 0x63C0
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


def _byte(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ApduError(f"{name} is one byte")
    return value


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A command. ``ne`` is the maximum response length expected (1-65536), or ``None``."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _byte(name, getattr(self, name))
        if not isinstance(self.data, bytes):
            raise ApduError("command data is bytes")
        if len(self.data) > _EXT_MAX:
            raise ApduError("command data is at most 65535 bytes")
        if self.ne is not None and not 1 <= self.ne <= _EXT_NE:
            raise ApduError("Ne is between 1 and 65536")

    @property
    def case(self) -> int:
        return (3 if self.data else 1) + (self.ne is not None)

    @property
    def extended(self) -> bool:
        """Whether the encoding needs the extended length form."""
        return len(self.data) > _SHORT_NC or (self.ne is not None and self.ne > _SHORT_NE)

    def encode(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        nc, ne = len(self.data), self.ne
        if not self.extended:
            lc = bytes((nc,)) if nc else b""
            le = b"" if ne is None else bytes((ne % _SHORT_NE,))
            return header + lc + self.data + le
        lc = nc.to_bytes(2, "big") if nc else b""
        le = b"" if ne is None else (ne % _EXT_NE).to_bytes(2, "big")
        return header + b"\x00" + lc + self.data + le

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        raw = bytes(raw)
        if len(raw) < 4:
            raise ApduError("a command APDU has at least a 4-byte header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        size = len(body)
        if size == 0:
            return cls(cla, ins, p1, p2)
        b1 = body[0]
        if size == 1:
            return cls(cla, ins, p1, p2, ne=b1 or _SHORT_NE)
        if b1 != 0:
            if size == 1 + b1:
                return cls(cla, ins, p1, p2, body[1:])
            if size == 2 + b1:
                return cls(cla, ins, p1, p2, body[1:-1], ne=body[-1] or _SHORT_NE)
            raise ApduError(f"Lc={b1} does not match the {size - 1} bytes that follow")
        if size == 3:
            return cls(cla, ins, p1, p2, ne=int.from_bytes(body[1:3], "big") or _EXT_NE)
        nc = int.from_bytes(body[1:3], "big")
        if nc and size == 3 + nc:
            return cls(cla, ins, p1, p2, body[3:])
        if nc and size == 5 + nc:
            return cls(cla, ins, p1, p2, body[3:-2], ne=int.from_bytes(body[-2:], "big") or _EXT_NE)
        raise ApduError("the extended lengths do not match the command's size")

    def __repr__(self) -> str:
        return f"CommandApdu({self.encode().hex().upper()})"


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """A response: data and the status word (``0x9000`` for success)."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise ApduError("response data is bytes")
        if not isinstance(self.sw, int) or not 0 <= self.sw <= 0xFFFF:
            raise ApduError("a status word is two bytes")

    @classmethod
    def status(cls, sw: int) -> ResponseApdu:
        return cls(b"", sw)

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        raw = bytes(raw)
        if len(raw) < 2:
            raise ApduError("a response APDU ends with a 2-byte status word")
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == StatusWord.OK

    def tries_left(self) -> int | None:
        """``x`` of a ``63Cx`` answer (a wrong PIN), else ``None``."""
        return self.sw & 0x0F if self.sw & 0xFFF0 == StatusWord.WRONG_PIN else None

    def __repr__(self) -> str:
        return f"ResponseApdu(data={self.data.hex().upper()}, sw={self.sw:04X})"
