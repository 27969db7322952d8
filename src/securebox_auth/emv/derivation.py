"""EMV key derivation: the card's master key, then the session key of one transaction.

* **ICC master key, option A** (EMV Book 2 Annex A1.4.1): ``Y`` is the rightmost 16 digits
  of ``PAN‖PSN`` (left-padded with zeros), packed as 8 bytes of BCD;
  ``MK = parity(3DES_IMK(Y) ‖ 3DES_IMK(Y ⊕ FF…FF))``. Option B (a SHA-1 based variant that
  EMV recommends for PANs of 17 to 19 digits) is not implemented: an issuer whose long-PAN
  cards use it must plug in a key provider that does.
* **Session keys**, chosen by the card's cryptogram version (:class:`SessionKeyMethod`):

  - ``EMV_CSK``, the EMV common session key (Book 2 A1.3.1): ``R = ATC‖00 00 00 00 00 00``;
    ``SK = parity(3DES_MK(R with byte 3 = F0) ‖ 3DES_MK(R with byte 3 = 0F))``
    (Visa CVN 18/22, Mastercard CVN 20/21);
  - ``MASTERCARD_SKD``, M/Chip session key derivation (CVN 16/17): the same construction
    with ``R = ATC‖00 00‖UN``;
  - ``UDK_DIRECT``, Visa CVN 10: no session key, the master key (the "UDK") is used as is.

Keys are 16 bytes (double-length DES). Nothing here logs or keeps a key.
"""

from __future__ import annotations

import enum
import re
from typing import Final

from cryptography.hazmat.primitives.ciphers import CipherContext

from securebox_auth.emv.des import ecb_encryptor, odd_parity
from securebox_auth.errors import MalformedInput

__all__ = [
    "SessionKeyMethod",
    "common_session_key",
    "diversification_value",
    "icc_master_key",
    "session_key",
    "session_key_from",
]

_PAN: Final = re.compile(r"[0-9]{12,19}")
_PSN: Final = re.compile(r"[0-9]{2}")
_ONES: Final = b"\xff" * 8


class SessionKeyMethod(enum.Enum):
    """How a card derives the key of one application cryptogram."""

    UDK_DIRECT = "udk_direct"
    EMV_CSK = "emv_csk"
    MASTERCARD_SKD = "mastercard_skd"


def icc_master_key(imk: bytes, pan: str, psn: str = "00") -> bytes:
    """The card's master key (option A) from the issuer master key ``imk`` (16 bytes)."""
    if len(imk) != 16:
        raise MalformedInput("an issuer master key has 16 bytes")
    if not isinstance(pan, str) or not _PAN.fullmatch(pan):
        raise MalformedInput("a PAN has 12-19 digits")
    if not isinstance(psn, str) or not _PSN.fullmatch(psn):
        raise MalformedInput("a PAN sequence number is 2 digits")
    digits = (pan + psn)[-16:].rjust(16, "0")
    y = bytes.fromhex(digits)
    halves = ecb_encryptor(imk).update(y + bytes(a ^ b for a, b in zip(y, _ONES, strict=True)))
    return odd_parity(halves)


def diversification_value(method: SessionKeyMethod, atc: int, un: bytes = bytes(4)) -> bytes:
    """``R``, the 8 bytes a session key is derived from (empty for ``UDK_DIRECT``)."""
    if not 0 <= atc <= 0xFFFF:
        raise MalformedInput("an ATC is 0-65535")
    if method is SessionKeyMethod.UDK_DIRECT:
        return b""
    if method is SessionKeyMethod.EMV_CSK:
        return atc.to_bytes(2, "big") + bytes(6)
    if len(un) != 4:
        raise MalformedInput("an unpredictable number has 4 bytes")
    return atc.to_bytes(2, "big") + b"\x00\x00" + un


def session_key_from(
    master: CipherContext, method: SessionKeyMethod, atc: int, un: bytes = bytes(4)
) -> bytes | None:
    """The session key computed with an ECB encryption context of the master key, or
    ``None`` for ``UDK_DIRECT`` (the caller then uses the master key itself).

    A key provider keeps one such context per card key, so that a window search pays for
    the master key's key schedule once.
    """
    r = diversification_value(method, atc, un)
    return _derive(master, r) if r else None


def _derive(master: CipherContext, r: bytes) -> bytes:
    left = r[:2] + b"\xf0" + r[3:]
    right = r[:2] + b"\x0f" + r[3:]
    return odd_parity(master.update(left + right))


def common_session_key(mk: bytes, r: bytes) -> bytes:
    """The EMV common session key construction (Book 2 A1.3.1) from any 8-byte ``R``."""
    if len(mk) != 16 or len(r) != 8:
        raise MalformedInput("a 16-byte master key and an 8-byte R")
    return _derive(ecb_encryptor(mk), r)


def session_key(mk: bytes, method: SessionKeyMethod, atc: int, un: bytes = bytes(4)) -> bytes:
    """The 16-byte key of one application cryptogram, from the card master key ``mk``."""
    if len(mk) != 16:
        raise MalformedInput("a card master key has 16 bytes")
    derived = session_key_from(ecb_encryptor(mk), method, atc, un)
    return mk if derived is None else derived
