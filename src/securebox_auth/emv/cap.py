"""The CAP token codec: from a GENERATE AC answer to the number a card reader displays.

No CAP specification is public; this follows the public reverse-engineering work described
in ``docs/factors/cap.md`` (python-emv, doegox/EMV-CAP, the FC 2009 paper).

1. ``D = [PSN if IAF & 40] ‖ CID ‖ ATC ‖ AC ‖ IAD`` (:func:`cap_data`).
2. The issuer proprietary bitmap (IPB, tag ``9F56``) is lined up with ``D`` from byte 0;
   bytes beyond the shorter of the two are ignored. Walking bytes left to right and bits
   from the most significant down, the bits of ``D`` under a 1 of the IPB are *kept* (not
   zeroed: dropped bits close up) and read as one big-endian integer, shown in decimal
   (:class:`BitFilter`). No modulo, no decimalisation table.
3. Mode 2 + TDS (Belgian and Dutch "sign" readers) first replaces the AC by the last block
   of single-DES CBC, keyed by the 8-byte AC, over the typed numbers (:func:`tds_mac`).
4. Cards without an IPB (Belgian payment applications) use a fixed mix instead
   (:func:`belgian_code`).

For the verifier, :meth:`CapCodec.reveal` runs step 2 backwards on a submitted code: it puts
the code's bits back where they came from, which tells which ATC bits the code reveals and
whether the bits of the predictable fields (PSN, CID, IAD) are right, before any MAC.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from securebox_auth.emv.mac import cbc_mac
from securebox_auth.errors import MalformedInput

__all__ = [
    "IAF_AMOUNT",
    "IAF_AMOUNT_ONLY",
    "IAF_PSN",
    "BitFilter",
    "CapCodec",
    "Revealed",
    "belgian_code",
    "belgian_unmix",
    "cap_data",
    "tds_block",
    "tds_mac",
]

#: IAF (tag 9F55) bit 8: the amount (and the currency, unless bit 6) enter the cryptogram.
IAF_AMOUNT: Final = 0x80
#: IAF bit 7: the PAN sequence number is prepended to the data the IPB filters.
IAF_PSN: Final = 0x40
#: IAF bit 6: the amount only, without the currency.
IAF_AMOUNT_ONLY: Final = 0x20

_BE_BITS: Final = 26
_TDS_MAX_NUMBERS: Final = 10
_TDS_MAX_DIGITS: Final = 16


def cap_data(*, cid: int, atc: int, ac: bytes, iad: bytes, psn: bytes | None = None) -> bytes:
    """``D``, the bytes the IPB filters (``psn`` only when the IAF asks for it)."""
    if len(ac) != 8 or not 0 <= atc <= 0xFFFF or not 0 <= cid <= 0xFF:
        raise MalformedInput("CID is 1 byte, ATC 2 and AC 8")
    head = psn if psn is not None else b""
    return head + bytes((cid,)) + atc.to_bytes(2, "big") + ac + iad


@dataclass(frozen=True, slots=True)
class BitFilter:
    """An IPB lined up with data of ``length`` bytes, as runs of kept bits."""

    ipb: bytes
    length: int
    #: (shift from the right end of the data, width) of each run of kept bits, in order.
    runs: tuple[tuple[int, int], ...]
    #: How many bits the filter keeps: the displayed number is below ``2**bits``.
    bits: int
    #: The IPB as an integer lined up with the data.
    mask: int

    @classmethod
    def of(cls, ipb: bytes, length: int) -> BitFilter:
        return _bit_filter(bytes(ipb), length)

    def extract(self, data: int) -> int:
        """The kept bits of ``data`` (the data as a big-endian integer of ``length`` bytes)."""
        out = 0
        for shift, width in self.runs:
            out = (out << width) | ((data >> shift) & ((1 << width) - 1))
        return out

    def deposit(self, code: int) -> int:
        """The data integer with the bits of ``code`` put back where they came from and
        every dropped bit zero; the inverse of :meth:`extract` on the kept bits."""
        out = 0
        for shift, width in reversed(self.runs):
            out |= (code & ((1 << width) - 1)) << shift
            code >>= width
        return out


@functools.lru_cache(maxsize=256)
def _bit_filter(ipb: bytes, length: int) -> BitFilter:
    if length <= 0:
        raise MalformedInput("the filtered data are empty")
    lined = ipb[:length].ljust(length, b"\x00")
    mask = int.from_bytes(lined, "big")
    total = length * 8
    runs: list[tuple[int, int]] = []
    position = 0
    while position < total:
        if mask >> (total - 1 - position) & 1:
            start = position
            while position < total and mask >> (total - 1 - position) & 1:
                position += 1
            runs.append((total - position, position - start))
        else:
            position += 1
    return BitFilter(lined, length, tuple(runs), sum(w for _, w in runs), mask)


def tds_block(numbers: Sequence[str]) -> bytes:
    """The data a TDS MAC covers: the numbers joined by ``F``, an ``F`` to an even number of
    nibbles, then ``80`` and zeros to a multiple of 8 bytes."""
    if isinstance(numbers, str) or not 1 <= len(numbers) <= _TDS_MAX_NUMBERS:
        raise MalformedInput("TDS signs 1 to 10 numbers")
    for number in numbers:
        if not (isinstance(number, str) and number.isascii() and number.isdigit()):
            raise MalformedInput("a TDS number is made of digits")
        if len(number) > _TDS_MAX_DIGITS:
            raise MalformedInput("a TDS number has at most 16 digits")
    text = "F".join(numbers)
    if len(text) % 2:
        text += "F"
    data = bytes.fromhex(text) + b"\x80"
    return data + bytes(-len(data) % 8)


def tds_mac(ac: bytes, numbers: Sequence[str]) -> bytes:
    """The AC of a Mode 2 + TDS code: single-DES CBC-MAC under the 8-byte AC."""
    if len(ac) != 8:
        raise MalformedInput("the TDS key is the 8-byte AC")
    return cbc_mac(ac, tds_block(numbers))


def belgian_code(atc: int, ac: bytes) -> int:
    """The code of a Belgian card without IPB: 26 bits (10 bits of AC bytes 5-6, the ATC's
    low byte, AC byte 7), plus its last digit times 10^7, modulo 10^8."""
    if len(ac) != 8:
        raise MalformedInput("an AC has 8 bytes")
    x = ((int.from_bytes(ac[5:7], "big") & 0x3FF) << 16) | ((atc & 0xFF) << 8) | ac[7]
    return (x + (x % 10) * 10**7) % 10**8


def belgian_unmix(code: int) -> int | None:
    """The 26-bit value behind a Belgian code, or ``None`` when no value gives ``code``.
    (The last digit survives the mix, so the mix is invertible.)"""
    if not 0 <= code < 10**8:
        return None
    x = (code - (code % 10) * 10**7) % 10**8
    return x if x < 1 << _BE_BITS else None


@dataclass(frozen=True, slots=True)
class Revealed:
    """What a submitted code says before any MAC: the ATC bits it shows."""

    atc_mask: int
    atc_bits: int

    def admits(self, atc: int) -> bool:
        return atc & self.atc_mask == self.atc_bits


@dataclass(frozen=True, slots=True)
class CapCodec:
    """How one card's codes are made: its IPB (``None``: the Belgian mix) and whether the
    PSN leads the data (IAF bit 7)."""

    ipb: bytes | None
    include_psn: bool = False

    def code(self, *, cid: int, atc: int, ac: bytes, iad: bytes, psn: bytes | None) -> int:
        """The number the reader displays."""
        if self.ipb is None:
            return belgian_code(atc, ac)
        if self.include_psn and (psn is None or len(psn) != 1):
            raise MalformedInput("this card's codes include its 1-byte PSN")
        data = cap_data(cid=cid, atc=atc, ac=ac, iad=iad, psn=psn if self.include_psn else None)
        bit_filter = BitFilter.of(self.ipb, len(data))
        return bit_filter.extract(int.from_bytes(data, "big"))

    def bits(self, *, iad_length: int) -> int:
        """How many bits a code carries (26 for the Belgian mix)."""
        if self.ipb is None:
            return _BE_BITS
        return BitFilter.of(self.ipb, self._length(iad_length)).bits

    def _length(self, iad_length: int) -> int:
        return (1 if self.include_psn else 0) + 11 + iad_length

    def reveal(self, code: int, *, cid: int, iad: bytes, psn: bytes | None) -> Revealed | None:
        """The ATC bits ``code`` shows, or ``None`` when no cryptogram of a card whose CID,
        IAD and PSN are the given ones can produce ``code``."""
        if self.ipb is None:
            value = belgian_unmix(code)
            return None if value is None else Revealed(0xFF, (value >> 8) & 0xFF)
        lead = 1 if self.include_psn else 0
        if self.include_psn and (psn is None or len(psn) != 1):
            raise MalformedInput("this card's codes include its 1-byte PSN")
        length = self._length(len(iad))
        bit_filter = BitFilter.of(self.ipb, length)
        if not 0 <= code < 1 << bit_filter.bits:
            return None
        placed = bit_filter.deposit(code)
        atc_shift = (length - lead - 3) * 8
        known_bytes = (
            (psn if self.include_psn and psn is not None else b"") + bytes((cid,)) + bytes(10) + iad
        )
        fixed = int.from_bytes(b"\xff" * (lead + 1) + bytes(10) + b"\xff" * len(iad), "big")
        fixed &= bit_filter.mask
        if placed & fixed != int.from_bytes(known_bytes, "big") & fixed:
            return None
        atc_mask = (bit_filter.mask >> atc_shift) & 0xFFFF
        return Revealed(atc_mask, (placed >> atc_shift) & 0xFFFF)
