"""DES and triple DES, the block ciphers of EMV, on top of ``cryptography``.

``TripleDES`` lives in ``cryptography.hazmat.decrepit`` (moved there in cryptography 43).
Since late 2025 cryptography also deprecates 8- and 16-byte keys for it, with a
``CryptographyDeprecationWarning`` (a ``UserWarning``). Every key here is therefore expanded
to 24 bytes before it reaches the library: a single DES key ``k`` becomes ``k‖k‖k`` (which
*is* single DES, since E(k)·D(k)·E(k) = E(k)) and a two-key ``k1‖k2`` becomes ``k1‖k2‖k1``.
No deprecation warning ever fires, whatever cryptography version from 43 on is installed.

DES ignores the parity bit of each key byte, so :func:`odd_parity` changes no result; HSMs
expect derived keys with odd parity and quote key check values (:func:`key_check_value`)
computed on them.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, modes

from securebox_auth.errors import MalformedInput

__all__ = [
    "BLOCK",
    "cbc_encrypt",
    "ecb_decrypt",
    "ecb_encrypt",
    "ecb_encryptor",
    "full_key",
    "key_check_value",
    "odd_parity",
    "xor",
]

#: The DES block size in bytes.
BLOCK: Final = 8
_ZERO_IV: Final = bytes(BLOCK)
# ECB is what EMV key derivation and MAC finalisation specify, block by block.
_ECB: Final = modes.ECB()  # noqa: S305


def full_key(key: bytes) -> bytes:
    """The 24-byte triple-DES key equivalent to an 8-, 16- or 24-byte key."""
    size = len(key)
    if size == 24:
        return bytes(key)
    if size == 16:
        return key + key[:8]
    if size == 8:
        return key * 3
    raise MalformedInput("a DES key has 8, 16 or 24 bytes")


def _check_blocks(data: bytes) -> None:
    if len(data) % BLOCK:
        raise MalformedInput("DES works on whole 8-byte blocks")


def ecb_encryptor(key: bytes) -> CipherContext:
    """A reusable ECB encryption context (ECB has no state between blocks)."""
    return Cipher(TripleDES(full_key(key)), _ECB).encryptor()


def ecb_encrypt(key: bytes, data: bytes) -> bytes:
    """Triple-DES (or single DES for an 8-byte key) ECB encryption of whole blocks."""
    _check_blocks(data)
    return ecb_encryptor(key).update(data)


def ecb_decrypt(key: bytes, data: bytes) -> bytes:
    _check_blocks(data)
    return Cipher(TripleDES(full_key(key)), _ECB).decryptor().update(data)


def cbc_encrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    """CBC encryption of whole blocks (single DES for an 8-byte key)."""
    _check_blocks(data)
    if len(iv) != BLOCK:
        raise MalformedInput("a DES IV has 8 bytes")
    return Cipher(TripleDES(full_key(key)), modes.CBC(iv)).encryptor().update(data)


def xor(left: bytes, right: bytes) -> bytes:
    """Byte-wise exclusive or of two strings of the same length."""
    if len(left) != len(right):
        raise MalformedInput("xor needs equal lengths")
    size = len(left)
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(size, "big")


_PARITY: Final = bytes((b & 0xFE) | (0 if bin(b & 0xFE).count("1") % 2 else 1) for b in range(256))


def odd_parity(key: bytes) -> bytes:
    """``key`` with each byte's lowest bit set so that the byte has an odd number of ones."""
    return key.translate(_PARITY)


def key_check_value(key: bytes, length: int = 3) -> bytes:
    """The key check value: the first bytes of the encryption of a zero block."""
    if not 1 <= length <= BLOCK:
        raise MalformedInput("a check value has 1-8 bytes")
    return ecb_encrypt(key, bytes(BLOCK))[:length]
