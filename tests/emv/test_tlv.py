"""emv/tlv.py: strict BER-TLV and DOLs, on real card answers and generated trees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.emv.tlv import (
    DolEntry,
    Tlv,
    TlvError,
    decode,
    decode_one,
    dol_length,
    encode_dol,
    encode_length,
    find,
    parse_dol,
    tag_bytes,
)
from securebox_auth.errors import MalformedInput

# The FCI of a Belgian card's CAP application (doegox/EMV-CAP, msgs_cap_be).
BE_FCI = bytes.fromhex(
    "6F2E8407A0000000048002A5239F38039F35015F2D026672BF0C159F5501005F2C020056DF0709424B53"
    "303536303038"
)
# The record of the NatWest card of the FC09 paper (CDOL1, CDOL2, IAF, IPB, CVM list).
FC09_RECORD = bytes.fromhex(
    "70558E0A000000000000000001009F5501A09F561200001F00000000000FFFFF000000000080008C159F02"
    "069F03069F1A0295055F2A029A039C019F37048D178A029F02069F03069F1A0295055F2A029A039C019F37"
    "04"
)


def test_fci_of_a_real_card_is_read_through_its_templates() -> None:
    (fci,) = decode(BE_FCI)
    assert fci.tag == 0x6F
    assert fci.constructed
    assert find((fci,), 0x84) == Tlv(0x84, bytes.fromhex("A0000000048002"))
    assert find((fci,), 0x9F55) == Tlv(0x9F55, b"\x00")
    pdol = find((fci,), 0x9F38)
    assert pdol is not None
    assert parse_dol(pdol.value) == (DolEntry(0x9F35, 1),)
    assert fci.encode() == BE_FCI


def test_record_of_the_fc09_card() -> None:
    record = decode_one(FC09_RECORD, expected_tag=0x70)
    ipb = find(record.children(), 0x9F56)
    assert ipb is not None
    assert ipb.value.hex().upper() == "00001F00000000000FFFFF00000000008000"
    cdol1 = find(record.children(), 0x8C)
    assert cdol1 is not None
    entries = parse_dol(cdol1.value)
    assert [e.tag for e in entries] == [0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37]
    assert dol_length(entries) == 29
    assert encode_dol(entries) == cdol1.value


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("9F", "truncated tag"),
        ("9F36", "no length"),
        ("9F3602", "value missing"),
        ("9F360200", "value short by one"),
        ("9F3681", "truncated long length"),
        ("9F368200", "truncated long length"),
        ("9F368480000000", "4-byte length"),
        ("6F80", "indefinite length"),
        ("9F80010100", "tag with leading zero bits"),
        ("9FFFFF7F0100", "4-byte tag"),
        ("6F02840101", "child reads past the end of its parent"),
        ("6F0284", "child truncated inside the parent"),
        ("000101", "tag 00"),
    ],
)
def test_malformed_input_is_refused(raw: str, problem: str) -> None:
    with pytest.raises(TlvError):
        decode_one(bytes.fromhex(raw))
    assert problem  # the reason the case exists


def test_errors_are_malformed_input_and_padding_only_when_asked() -> None:
    with pytest.raises(MalformedInput):
        decode(bytes.fromhex("00005A0112"))
    assert decode(bytes.fromhex("00005A011200"), skip_padding=True) == (Tlv(0x5A, b"\x12"),)


def test_long_lengths_are_minimal_on_output_and_accepted_non_minimal_on_input() -> None:
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x1234) == b"\x82\x12\x34"
    assert decode(bytes.fromhex("5A810112")) == (Tlv(0x5A, b"\x12"),)
    with pytest.raises(TlvError):
        encode_length(1 << 24)


def test_tags_are_checked() -> None:
    assert tag_bytes(0x9F26) == bytes.fromhex("9F26")
    for bad in (0, 0x9F, 0x9F8001, 1 << 24, -1):
        with pytest.raises(TlvError):
            tag_bytes(bad)
    with pytest.raises(TlvError):
        Tlv.of(0x5A)  # primitive: cannot hold children
    with pytest.raises(TlvError):
        Tlv(0x5A).children()


def test_decode_one_wants_exactly_one_object_of_the_expected_tag() -> None:
    with pytest.raises(TlvError):
        decode_one(bytes.fromhex("5A01125A0112"))
    with pytest.raises(TlvError):
        decode_one(bytes.fromhex("5A0112"), expected_tag=0x70)


def test_dol_errors() -> None:
    with pytest.raises(TlvError):
        parse_dol(bytes.fromhex("9F02"))  # no length
    with pytest.raises(TlvError):
        parse_dol(bytes.fromhex("9F0281"))  # DOL lengths are one byte below 80
    with pytest.raises(TlvError):
        DolEntry(0x9F02, 256)


# -- round trip ---------------------------------------------------------------------------

_PRIMITIVE_TAGS = st.sampled_from([0x5A, 0x82, 0x8C, 0x9F02, 0x9F26, 0x9F36, 0x5F34, 0xDF7F])
_CONSTRUCTED_TAGS = st.sampled_from([0x6F, 0x70, 0x77, 0xA5, 0xBF0C, 0x61, 0xFF60])
_leaves = st.builds(Tlv, _PRIMITIVE_TAGS, st.binary(max_size=300))
_trees = st.recursive(
    _leaves,
    lambda kids: st.builds(
        lambda tag, children: Tlv.of(tag, *children),
        _CONSTRUCTED_TAGS,
        st.lists(kids, max_size=4),
    ),
    max_leaves=12,
)


@given(st.lists(_trees, max_size=5))
def test_round_trip(objects: list[Tlv]) -> None:
    encoded = b"".join(obj.encode() for obj in objects)
    assert decode(encoded) == tuple(objects)
    for obj in objects:
        if obj.constructed:
            assert b"".join(child.encode() for child in obj.children()) == obj.value


@given(_trees, st.data())
def test_every_truncation_is_refused_never_over_read(obj: Tlv, data: st.DataObject) -> None:
    encoded = obj.encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(TlvError):
        decode_one(encoded[:cut])


@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_tlv_error(raw: bytes) -> None:
    try:
        objects = decode(raw)
    except TlvError:
        return
    # whatever was accepted re-encodes (minimally) to the same objects
    assert decode(b"".join(obj.encode() for obj in objects)) == objects
