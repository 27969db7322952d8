"""A small QR code encoder (ISO/IEC 18004), for TOTP enrolment pages made offline.

Only what a provisioning URI needs: byte mode, the four error-correction levels, versions 1
to 40, automatic or fixed mask, and an SVG rendering. It has no dependency, reads nothing
and writes nothing: the enrolment page embeds the SVG text. Why securebox carries its own
encoder instead of a library is recorded in ``docs/adr/0006-qr-codes-without-a-dependency.md``;
the tests compare its matrices module by module with segno's.

    >>> matrix = encode(b"otpauth://totp/Bank:123456789%3A01?secret=JBSWY3DPEHPK3PXP")
    >>> matrix.version, matrix.size
    (4, 33)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = ["ECC_LEVELS", "QrMatrix", "encode", "to_svg"]

#: Error-correction levels and their two format bits.
ECC_LEVELS: Final = {"L": 1, "M": 0, "Q": 3, "H": 2}

# Per level, indexed by version (index 0 unused): error-correction codewords per block and
# number of blocks (ISO/IEC 18004:2015 table 9).
_ECC_PER_BLOCK: Final = {
    "L": (0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    "Q": (0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
          28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "H": (0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
          30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
}  # fmt: skip
_BLOCKS: Final = {
    "L": (0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12,
          12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18,
          20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    "Q": (0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23,
          25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    "H": (0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34,
          30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
}  # fmt: skip

# GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP: Final = [0] * 512
_LOG: Final = [0] * 256


def _init_tables() -> None:
    value = 1
    for power in range(255):
        _EXP[power] = value
        _LOG[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        _EXP[power] = _EXP[power - 255]


_init_tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _generator(degree: int) -> list[int]:
    """Coefficients (highest first, leading 1 omitted) of prod (x - 2^i), i < degree."""
    poly = [1]
    for i in range(degree):
        root = _EXP[i]
        nxt = [0] * (len(poly) + 1)
        for j, coef in enumerate(poly):
            nxt[j] ^= coef
            nxt[j + 1] ^= _mul(coef, root)
        poly = nxt
    return poly[1:]


def _remainder(data: list[int], generator: list[int]) -> list[int]:
    rem = [0] * len(generator)
    for byte in data:
        factor = byte ^ rem.pop(0)
        rem.append(0)
        if factor:
            for i, coef in enumerate(generator):
                rem[i] ^= _mul(coef, factor)
    return rem


def _raw_modules(version: int) -> int:
    """Modules available for data and error correction (after function patterns)."""
    result = (16 * version + 128) * version + 64
    if version >= 2:
        align = version // 7 + 2
        result -= (25 * align - 10) * align - 55
        if version >= 7:
            result -= 36
    return result


def _data_capacity(version: int, level: str) -> int:
    """Data codewords of a symbol."""
    return _raw_modules(version) // 8 - _ECC_PER_BLOCK[level][version] * _BLOCKS[level][version]


def _alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    size = version * 4 + 17
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6, *reversed([size - 7 - i * step for i in range(count - 1)])]


@dataclass(frozen=True, slots=True)
class QrMatrix:
    """A finished symbol: ``rows[y][x]`` is True for a dark module (no quiet zone)."""

    version: int
    level: str
    mask: int
    rows: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        return len(self.rows)


class _Builder:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = version * 4 + 17
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.function = [[False] * self.size for _ in range(self.size)]

    def put(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.function[y][x] = True

    def draw_function_patterns(self, level: str) -> None:
        size = self.size
        for i in range(size):
            self.put(6, i, i % 2 == 0)
            self.put(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        self.put(x, y, max(abs(dx), abs(dy)) not in (2, 4))
        positions = _alignment_positions(self.version)
        last = len(positions) - 1
        for i, px in enumerate(positions):
            for j, py in enumerate(positions):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.put(px + dx, py + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(level, 0)
        if self.version >= 7:
            rem = self.version
            for _ in range(12):
                rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
            bits = self.version << 12 | rem
            for i in range(18):
                bit = bool((bits >> i) & 1)
                a, b = size - 11 + i % 3, i // 3
                self.put(a, b, bit)
                self.put(b, a, bit)

    def draw_format(self, level: str, mask: int) -> None:
        data = ECC_LEVELS[level] << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        size = self.size

        def bit(i: int) -> bool:
            return bool((bits >> i) & 1)

        for i in range(6):
            self.put(8, i, bit(i))
        self.put(8, 7, bit(6))
        self.put(8, 8, bit(7))
        self.put(7, 8, bit(8))
        for i in range(9, 15):
            self.put(14 - i, 8, bit(i))
        for i in range(8):
            self.put(size - 1 - i, 8, bit(i))
        for i in range(8, 15):
            self.put(8, size - 15 + i, bit(i))
        self.put(8, size - 8, True)

    def draw_codewords(self, codewords: list[int]) -> None:
        size = self.size
        index = 0
        total = len(codewords) * 8
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5
            upward = ((right + 1) & 2) == 0
            for vert in range(size):
                y = size - 1 - vert if upward else vert
                for x in (right, right - 1):
                    if not self.function[y][x] and index < total:
                        self.dark[y][x] = bool((codewords[index >> 3] >> (7 - (index & 7))) & 1)
                        index += 1
            right -= 2

    def masked(self, mask: int) -> list[list[bool]]:
        test = _MASKS[mask]
        return [
            [
                cell ^ (not fn and test(x, y))
                for x, (cell, fn) in enumerate(zip(row, fns, strict=True))
            ]
            for y, (row, fns) in enumerate(zip(self.dark, self.function, strict=True))
        ]


_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)

_FINDER_A: Final = (True, False, True, True, True, False, True, False, False, False, False)
_FINDER_B: Final = tuple(reversed(_FINDER_A))


def _penalty(grid: list[list[bool]]) -> int:
    """The mask penalty of ISO/IEC 18004 section 7.8.3 (rules N1 to N4)."""
    size = len(grid)
    columns = [[grid[y][x] for y in range(size)] for x in range(size)]
    score = 0
    for line in (*grid, *columns):
        run = 1
        for i in range(1, size):
            if line[i] == line[i - 1]:
                run += 1
                continue
            if run >= 5:
                score += run - 2
            run = 1
        if run >= 5:
            score += run - 2
        cells = tuple(line)
        for i in range(size - 10):
            window = cells[i : i + 11]
            if window in (_FINDER_A, _FINDER_B):
                score += 40
    for y in range(size - 1):
        top, bottom = grid[y], grid[y + 1]
        for x in range(size - 1):
            if top[x] == top[x + 1] == bottom[x] == bottom[x + 1]:
                score += 3
    dark = sum(sum(row) for row in grid)
    total = size * size
    score += (abs(dark * 20 - total * 10) + total - 1) // total * 10 - 10
    return score


def _codewords(data: bytes, version: int, level: str) -> list[int]:
    count_bits = 8 if version <= 9 else 16
    capacity = _data_capacity(version, level)
    bits: list[int] = []

    def append(value: int, length: int) -> None:
        bits.extend((value >> i) & 1 for i in range(length - 1, -1, -1))

    append(0b0100, 4)
    append(len(data), count_bits)
    for byte in data:
        append(byte, 8)
    append(0, min(4, capacity * 8 - len(bits)))
    append(0, -len(bits) % 8)
    stream = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(stream) < capacity:
        stream.append(pad)
        pad ^= 0xEC ^ 0x11
    # Split into blocks, add error correction, interleave.
    blocks_count = _BLOCKS[level][version]
    ecc_len = _ECC_PER_BLOCK[level][version]
    raw = _raw_modules(version) // 8
    short_blocks = blocks_count - raw % blocks_count
    short_len = raw // blocks_count
    generator = _generator(ecc_len)
    blocks: list[tuple[list[int], list[int]]] = []
    offset = 0
    for i in range(blocks_count):
        length = short_len - ecc_len + (0 if i < short_blocks else 1)
        chunk = stream[offset : offset + length]
        offset += length
        blocks.append((chunk, _remainder(chunk, generator)))
    result: list[int] = []
    for i in range(short_len - ecc_len + 1):
        result.extend(chunk[i] for chunk, _ in blocks if i < len(chunk))
    for i in range(ecc_len):
        result.extend(ecc[i] for _, ecc in blocks)
    return result


def encode(
    data: bytes | str,
    *,
    level: str = "M",
    min_version: int = 1,
    mask: int | None = None,
) -> QrMatrix:
    """Encode ``data`` (text is UTF-8) in byte mode in the smallest version that holds it.

    ``mask=None`` chooses the mask with the lowest penalty, as the standard asks.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if level not in ECC_LEVELS:
        raise ConfigurationError("a QR error-correction level is L, M, Q or H")
    if mask is not None and mask not in range(8):
        raise ConfigurationError("a QR mask is 0 to 7")
    if not 1 <= min_version <= 40:
        raise ConfigurationError("a QR version is 1 to 40")
    for version in range(min_version, 41):
        count_bits = 8 if version <= 9 else 16
        if 4 + count_bits + 8 * len(data) <= _data_capacity(version, level) * 8:
            break
    else:
        raise MalformedInput("the data is too long for a QR code")
    builder = _Builder(version)
    builder.draw_function_patterns(level)
    builder.draw_codewords(_codewords(data, version, level))
    choices = range(8) if mask is None else (mask,)
    best: tuple[int, int, list[list[bool]]] | None = None
    for candidate in choices:
        builder.draw_format(level, candidate)
        grid = builder.masked(candidate)
        score = _penalty(grid) if mask is None else 0
        if best is None or score < best[0]:
            best = (score, candidate, grid)
    assert best is not None
    _, chosen, grid = best
    return QrMatrix(version, level, chosen, tuple(tuple(row) for row in grid))


def to_svg(matrix: QrMatrix, *, scale: int = 4, border: int = 4, title: str = "") -> str:
    """The symbol as a standalone SVG document (black on white, ``border`` quiet modules)."""
    if not 1 <= scale <= 64 or not 4 <= border <= 16:
        raise ConfigurationError("scale is 1 to 64 and the quiet zone 4 to 16 modules")
    side = matrix.size + 2 * border
    parts: list[str] = []
    for y, row in enumerate(matrix.rows):
        x = 0
        while x < matrix.size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < matrix.size and row[x]:
                x += 1
            parts.append(f"M{start + border} {y + border}h{x - start}v1h-{x - start}z")
    label = ""
    if title:
        escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        label = f"<title>{escaped}</title>"
    px = side * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">{label}'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )
