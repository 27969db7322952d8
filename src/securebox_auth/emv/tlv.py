"""BER-TLV as EMV uses it (EMV Book 3 Annex B, a subset of ISO/IEC 8825-1).

Strict by design: every length is checked against the bytes that are actually there, a
constructed object's content must itself be a complete sequence of objects, and nothing is
ever read past the end of the input. Anything else raises :class:`TlvError` (a
:class:`~securebox_auth.errors.MalformedInput`), never ``IndexError``.

* Tags are 1 to 3 bytes. A first byte whose low five bits are ``11111`` announces more
  bytes; each further byte with bit 8 set announces another one. A first subsequent byte
  of ``80`` (a tag number with leading zero bits) is refused, as X.690 8.1.2.4.2 says.
* Lengths use the short form (``00``-``7F``) or the long form ``81``/``82``/``83`` followed
  by 1-3 length bytes. The indefinite form ``80`` and longer forms are refused. A long form
  that could have been shorter is accepted on input (some cards send ``81 10``) and never
  produced on output.
* EMV allows ``00`` bytes between objects (erased data); :func:`decode` skips them only when
  asked (``skip_padding=True``), for data read from a card.

A DOL (data object list, such as CDOL1 in tag ``8C``) is a list of tags with lengths and no
values: :func:`parse_dol` and :func:`encode_dol`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import MalformedInput

__all__ = [
    "DolEntry",
    "Tlv",
    "TlvError",
    "decode",
    "decode_one",
    "dol_length",
    "encode_dol",
    "encode_length",
    "find",
    "parse_dol",
    "tag_bytes",
]

_MAX_TAG_BYTES: Final = 3
_MAX_LENGTH_BYTES: Final = 3
_MAX_DEPTH: Final = 16


class TlvError(MalformedInput):
    """Bytes that are not well-formed BER-TLV (or a well-formed DOL)."""

    code = "malformed_tlv"


def tag_bytes(tag: int) -> bytes:
    """The encoded form of ``tag`` (an int such as ``0x9F26``); checks that it is valid."""
    if not isinstance(tag, int) or not 0 < tag < 1 << (8 * _MAX_TAG_BYTES):
        raise TlvError(f"tag {tag!r} is not a 1-3 byte tag")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    _, end = _read_tag(raw, 0)
    if end != len(raw):
        raise TlvError(f"tag {tag:X} is not a valid BER tag")
    return raw


def _is_constructed(tag: int) -> bool:
    first = tag >> (8 * ((tag.bit_length() - 1) // 8))
    return bool(first & 0x20)


def _read_tag(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise TlvError("truncated: a tag was expected")
    first = data[offset]
    tag, pos = first, offset + 1
    if first & 0x1F != 0x1F:
        return tag, pos
    while True:
        if pos >= len(data):
            raise TlvError("truncated inside a multi-byte tag")
        byte = data[pos]
        if pos == offset + 1 and byte == 0x80:
            raise TlvError("a tag number may not start with zero bits")
        tag = (tag << 8) | byte
        pos += 1
        if pos - offset > _MAX_TAG_BYTES:
            raise TlvError("tags longer than 3 bytes are not supported")
        if not byte & 0x80:
            return tag, pos


def _read_length(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise TlvError("truncated: a length was expected")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0:
        raise TlvError("the indefinite length form is not allowed")
    if count > _MAX_LENGTH_BYTES:
        raise TlvError("a length takes at most 3 bytes")
    end = offset + 1 + count
    if end > len(data):
        raise TlvError("truncated inside a length")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def encode_length(length: int) -> bytes:
    """The shortest BER encoding of ``length``."""
    if not 0 <= length < 1 << (8 * _MAX_LENGTH_BYTES):
        raise TlvError("a length must fit in 3 bytes")
    if length < 0x80:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


@dataclass(frozen=True, slots=True)
class Tlv:
    """One data object. For a constructed tag, ``value`` holds the encoded children."""

    tag: int
    value: bytes = b""

    def __post_init__(self) -> None:
        tag_bytes(self.tag)
        if not isinstance(self.value, bytes):
            raise TlvError("a TLV value is bytes")
        if len(self.value) >= 1 << (8 * _MAX_LENGTH_BYTES):
            raise TlvError("a TLV value is too long")

    @classmethod
    def of(cls, tag: int, *children: Tlv) -> Tlv:
        """A constructed object holding ``children`` (``Tlv.of(0x77, Tlv(0x9F27, b"\\x80"))``)."""
        if not _is_constructed(tag):
            raise TlvError(f"tag {tag:X} is primitive")
        return cls(tag, b"".join(child.encode() for child in children))

    @property
    def constructed(self) -> bool:
        return _is_constructed(self.tag)

    def children(self) -> tuple[Tlv, ...]:
        """The objects inside a constructed object."""
        if not self.constructed:
            raise TlvError(f"tag {self.tag:X} is primitive: it has no children")
        return decode(self.value)

    def encode(self) -> bytes:
        return tag_bytes(self.tag) + encode_length(len(self.value)) + self.value

    def __repr__(self) -> str:
        return f"Tlv({self.tag:X}, {self.value.hex().upper()})"


def _decode(data: bytes, *, skip_padding: bool, depth: int) -> Iterator[Tlv]:
    if depth > _MAX_DEPTH:
        raise TlvError("TLV nesting is too deep")
    pos = 0
    while pos < len(data):
        if skip_padding and data[pos] == 0x00:
            pos += 1
            continue
        tag, pos = _read_tag(data, pos)
        if tag == 0x00:
            raise TlvError("00 is not a tag (padding is only skipped when asked)")
        length, pos = _read_length(data, pos)
        end = pos + length
        if end > len(data):
            raise TlvError(f"tag {tag:X} claims {length} bytes but only {len(data) - pos} remain")
        obj = Tlv(tag, data[pos:end])
        if obj.constructed:
            for _ in _decode(obj.value, skip_padding=skip_padding, depth=depth + 1):
                pass
        pos = end
        yield obj


def decode(data: bytes, *, skip_padding: bool = False) -> tuple[Tlv, ...]:
    """Every object in ``data``, in order; constructed objects are checked recursively."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TlvError("TLV input is bytes")
    return tuple(_decode(bytes(data), skip_padding=skip_padding, depth=0))


def decode_one(data: bytes, *, expected_tag: int | None = None) -> Tlv:
    """Exactly one object that spans all of ``data`` (optionally with a given tag)."""
    objects = decode(data)
    if len(objects) != 1:
        raise TlvError(f"expected one TLV object, found {len(objects)}")
    if expected_tag is not None and objects[0].tag != expected_tag:
        raise TlvError(f"expected tag {expected_tag:X}, found {objects[0].tag:X}")
    return objects[0]


def find(objects: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first object with ``tag``, searching depth-first through constructed objects."""
    for obj in objects:
        if obj.tag == tag:
            return obj
        if obj.constructed:
            found = find(obj.children(), tag)
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class DolEntry:
    """One line of a data object list: a tag and the number of value bytes it asks for."""

    tag: int
    length: int

    def __post_init__(self) -> None:
        tag_bytes(self.tag)
        if not 0 <= self.length <= 0xFF:
            raise TlvError("a DOL entry asks for 0-255 bytes")

    def encode(self) -> bytes:
        return tag_bytes(self.tag) + bytes((self.length,))


def parse_dol(data: bytes) -> tuple[DolEntry, ...]:
    """Parse a DOL (tag, length pairs with no values), such as the value of tag ``8C``."""
    entries: list[DolEntry] = []
    pos = 0
    raw = bytes(data)
    while pos < len(raw):
        tag, pos = _read_tag(raw, pos)
        if pos >= len(raw):
            raise TlvError(f"DOL entry {tag:X} has no length")
        length, pos = raw[pos], pos + 1
        if length & 0x80:
            raise TlvError("a DOL length is one byte below 80")
        entries.append(DolEntry(tag, length))
    return tuple(entries)


def encode_dol(entries: Iterable[DolEntry]) -> bytes:
    return b"".join(entry.encode() for entry in entries)


def dol_length(entries: Iterable[DolEntry]) -> int:
    """The number of bytes of data that the DOL asks for."""
    return sum(entry.length for entry in entries)
