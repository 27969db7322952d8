"""HOTP (RFC 4226) over a seed held in base32 text: the one computation a TOTP makes.

:func:`hotp` is RFC 4226 section 5.3 as written: HMAC of the 8-byte big-endian counter,
dynamic truncation to 31 bits, the low ``digits`` decimal digits. It uses the standard
library's one-shot :func:`hmac.digest` (OpenSSL underneath). :func:`decode_seed` reads the
base32 text of an ``otpauth://`` URI (RFC 4648 section 6, unpadded) through
:meth:`str.translate` and :func:`int`, both in C; :func:`base64.b32decode` is pure Python
and cost more than the HMAC itself (ADR 0063). The tests hold both equal to pyotp, to
:mod:`cryptography`'s HOTP and to :func:`base64.b32decode`, and to RFC 4226's and RFC 6238's
vectors.
"""

from __future__ import annotations

import hmac
from typing import Final

from securebox_auth.errors import MalformedInput

__all__ = ["HASHES", "decode_seed", "hotp"]

#: RFC 6238's hash names (as in ``otpauth://`` URIs) and their names for :mod:`hmac`.
HASHES: Final = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
_POWERS: Final = {digits: 10**digits for digits in range(6, 9)}
# RFC 4648's base32 alphabet onto the digits of int(text, 32).
_TO_BASE32HEX: Final = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHIJKLMNOPQRSTUV"
)
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# The lengths mod 8 that unpadded base32 can have (1, 3 and 6 leave a partial byte).
_LENGTHS: Final = frozenset({0, 2, 4, 5, 7})


def decode_seed(text: str) -> bytes:
    """The bytes of unpadded upper-case base32 ``text``, as :func:`base64.b32decode` gives
    them once padded (the last character's unused bits are dropped, as there).

    Raises :class:`~securebox_auth.errors.MalformedInput` for anything else.
    """
    if (
        not isinstance(text, str)
        or not text
        or len(text) % 8 not in _LENGTHS
        or not _ALPHABET.issuperset(text)
    ):
        raise MalformedInput("a TOTP secret is base32 text")
    bits = 5 * len(text)
    value = int(text.translate(_TO_BASE32HEX), 32)
    return (value >> (bits % 8)).to_bytes(bits // 8, "big")


def hotp(key: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """The ``digits``-digit HOTP value of ``counter`` (0 to 2**64 - 1) under ``key``.

    ``algorithm`` is one of :data:`HASHES`' names; ``digits`` 6, 7 or 8 (RFC 4226 section
    5.3 asks for at least 6; 9 and more would bias the low digits of a 31-bit number).
    """
    power = _POWERS.get(digits)
    name = HASHES.get(algorithm)
    if power is None or name is None or not 0 <= counter < 1 << 64:
        raise MalformedInput("HOTP: 6 to 8 digits, SHA1/SHA256/SHA512, a 64-bit counter")
    mac = hmac.digest(key, counter.to_bytes(8, "big"), name)
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % power).zfill(digits)
