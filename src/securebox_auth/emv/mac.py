"""ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC", ANSI X9.19) with padding 1 or 2.

MAC algorithm 3 with a 16-byte key ``K1‖K2``: single-DES CBC under ``K1`` over every block
(IV zero), then, on the last block only, a decryption under ``K2`` and an encryption under
``K1``. It is *not* a triple-DES CBC-MAC: the middle blocks see single DES only. The result
is 8 bytes (EMV application cryptograms use all 8).

Padding (ISO/IEC 9797-1 section 6.1):

* method 1: zero bytes up to a multiple of 8, and **nothing** when the data is already a
  multiple of 8 (empty data becomes one zero block); Visa CVN 10 uses it;
* method 2: one ``80`` byte, then zero bytes up to a multiple of 8 (always at least one
  byte added); EMV Book 2 A1.2 and Mastercard use it.

Implementation: one single-DES CBC pass over all blocks but the last, then one triple-DES
operation ``E(K1)·D(K2)·E(K1)`` on the last block xor the chain value, which equals the
definition above. Two cipher contexts per MAC.
"""

from __future__ import annotations

import enum
from typing import Final

from securebox_auth.emv.des import BLOCK, cbc_encrypt, ecb_encrypt, xor
from securebox_auth.errors import MalformedInput

__all__ = ["Padding", "cbc_mac", "pad", "retail_mac"]

_ZERO: Final = bytes(BLOCK)


class Padding(enum.IntEnum):
    """ISO/IEC 9797-1 padding method."""

    METHOD_1 = 1
    METHOD_2 = 2


def pad(data: bytes, method: Padding) -> bytes:
    """``data`` padded to a whole number of 8-byte blocks."""
    if method is Padding.METHOD_2:
        data = data + b"\x80"
    elif method is not Padding.METHOD_1:
        raise MalformedInput("padding is method 1 or 2")
    elif not data:
        return _ZERO
    remainder = len(data) % BLOCK
    return data + bytes(BLOCK - remainder) if remainder else data


def retail_mac(key: bytes, data: bytes, padding: Padding) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 of ``data`` under the 16-byte ``key``."""
    if len(key) != 16:
        raise MalformedInput("MAC algorithm 3 takes a 16-byte key")
    message = pad(data, padding)
    k1 = key[:8]
    last = message[-BLOCK:]
    if len(message) > BLOCK:
        chain = cbc_encrypt(k1, message[:-BLOCK])[-BLOCK:]
        last = xor(chain, last)
    return ecb_encrypt(k1 + key[8:16] + k1, last)


def cbc_mac(key: bytes, data: bytes) -> bytes:
    """The last block of CBC encryption with IV zero (no padding: whole blocks only).

    With an 8-byte key this is the single-DES CBC-MAC that the CAP "TDS" step uses.
    """
    if not data:
        raise MalformedInput("a CBC-MAC needs at least one block")
    return cbc_encrypt(key, data)[-BLOCK:]
