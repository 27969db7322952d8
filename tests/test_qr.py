"""The QR encoder, read back by a real decoder (zxing-cpp)."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.factors.qr import ECC_LEVELS, QrMatrix, encode, to_svg

_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\d+z")


def _image(rows: list[list[bool]], scale: int = 3) -> memoryview:
    size = len(rows)
    side = size * scale
    pixels = bytearray(b"\xff" * side * side)
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (y * scale + dy) * side + x * scale
                    pixels[start : start + scale] = b"\x00" * scale
    return memoryview(bytes(pixels)).cast("B", (side, side))


def decode_matrix(matrix: QrMatrix, border: int = 4) -> str:
    side = matrix.size + 2 * border
    rows = [[False] * side for _ in range(side)]
    for y, row in enumerate(matrix.rows):
        for x, dark in enumerate(row):
            rows[y + border][x + border] = dark
    found = zxingcpp.read_barcodes(_image(rows), is_pure=True)
    assert found, "the decoder found no QR code"
    return str(found[0].text)


def decode_svg_matrix(svg: str) -> str:
    """Rebuild the module grid from the SVG's path and decode it."""
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    side = int(root.attrib["viewBox"].split()[2])
    rows = [[False] * side for _ in range(side)]
    path = next(el for el in root.iter() if el.tag.endswith("path"))
    for x, y, n in _RUN.findall(path.attrib["d"]):
        for dx in range(int(n)):
            rows[int(y)][int(x) + dx] = True
    found = zxingcpp.read_barcodes(_image(rows), is_pure=True)
    assert found, "the decoder found no QR code"
    return str(found[0].text)


@pytest.mark.parametrize("level", sorted(ECC_LEVELS))
def test_random_texts_read_back_at_every_level(level: str) -> None:
    rnd = random.Random(level)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/?=&%.-"
    for length in (1, 17, 60, 150, 400):
        text = "".join(rnd.choice(alphabet) for _ in range(length))
        matrix = encode(text, level=level)
        assert matrix.size == matrix.version * 4 + 17
        assert decode_matrix(matrix) == text


@pytest.mark.parametrize("mask", range(8))
def test_every_mask_reads_back(mask: int) -> None:
    text = "otpauth://totp/Bank:123456789%3A01?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Bank"
    matrix = encode(text, mask=mask)
    assert matrix.mask == mask
    assert decode_matrix(matrix) == text


def test_large_versions_with_version_information_read_back() -> None:
    text = "x" * 1000
    matrix = encode(text, level="L")
    assert matrix.version >= 7
    assert decode_matrix(matrix) == text


def test_smallest_version_is_chosen() -> None:
    assert encode("hello").version == 1
    assert encode("hello", min_version=5).version == 5
    # 14 bytes fit 1-M, 15 do not
    assert encode("a" * 14).version == 1
    assert encode("a" * 15).version == 2


def test_svg_is_well_formed_and_sized() -> None:
    matrix = encode("hello")
    svg = to_svg(matrix, scale=5, title="a <title> & more")
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    side = matrix.size + 8
    assert root.attrib["viewBox"] == f"0 0 {side} {side}"
    assert root.attrib["width"] == str(side * 5)
    assert decode_svg_matrix(svg) == "hello"


def test_misuse() -> None:
    with pytest.raises(MalformedInput):
        encode("x" * 3000, level="H")
    with pytest.raises(ConfigurationError):
        encode("x", level="X")
    with pytest.raises(ConfigurationError):
        encode("x", mask=8)
    with pytest.raises(ConfigurationError):
        to_svg(encode("x"), border=2)
