"""QR codes for TOTP enrolment pages, made offline with segno (ISO/IEC 18004).

The provisioning URI carries the TOTP seed, so its QR code is made here, in the process, and
never by an online service. :func:`encode` gives the module matrix (byte mode, the four
error-correction levels, versions 1 to 40, automatic or fixed mask) and :func:`to_svg` an SVG
document that the enrolment page embeds as text. The encoding itself is segno's; why, see
``docs/adr/0015-segno-and-python-stdnum.md``.

    >>> matrix = encode(b"otpauth://totp/Bank:123456789%3A01?secret=JBSWY3DPEHPK3PXP")
    >>> matrix.version, matrix.size
    (4, 33)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import segno

from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = ["ECC_LEVELS", "QrMatrix", "encode", "to_svg"]

#: Error-correction levels and their two format bits (ISO/IEC 18004:2015 table 12).
ECC_LEVELS: Final = {"L": 1, "M": 0, "Q": 3, "H": 2}


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


def _make(data: bytes, level: str, version: int | None, mask: int | None) -> segno.QRCode:
    try:
        return segno.make_qr(
            data, error=level, version=version, mode="byte", mask=mask, boost_error=False
        )
    except segno.DataOverflowError:
        raise MalformedInput("the data is too long for a QR code") from None


def encode(
    data: bytes | str,
    *,
    level: str = "M",
    min_version: int = 1,
    mask: int | None = None,
) -> QrMatrix:
    """Encode ``data`` (text is UTF-8) in byte mode in the smallest version, at least
    ``min_version``, that holds it.

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
    symbol = _make(data, level, None, mask)
    version = int(symbol.version)
    if version < min_version:
        symbol = _make(data, level, min_version, mask)
        version = min_version
    rows = tuple(tuple(bool(module) for module in row) for row in symbol.matrix)
    return QrMatrix(version, level, int(symbol.mask), rows)


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
