"""A software PIV card (NIST SP 800-73-4), the subset OpenSC's PIV driver needs.

Served through :class:`~securebox_auth.cards.vpcd.VpcdServer`, it lets OpenSC's
``opensc-pkcs11.so`` and ``pkcs11-tool`` list it, log in and sign through pcscd, as with a
real card, so that :mod:`securebox_auth.cards.pkcs11_client` is tested end to end. It holds
one EC P-256 key in slot 9A (PIV Authentication) and its certificate, and answers:

* ``SELECT`` by AID, matched as a prefix of the PIV AID (OpenSC sends a truncated one), with
  the Application Property Template; an unknown AID answers ``6A82`` and keeps PIV selected;
* ``GET DATA`` of the 9A certificate (``5FC105``) as ``53{70 cert, 71 00, FE 00}``, with
  ``61xx`` + ``GET RESPONSE`` chaining when the answer is longer than ``Le``; other objects
  answer ``6A82``;
* ``VERIFY`` of the PIV application PIN (``80``): without data, a status query (``9000``,
  ``63Cx``, ``6983``); with 8 bytes (the PIN padded with ``FF``), a login that counts down
  the try counter and blocks the PIN at zero, as a real card does (a wrong PIN answers
  ``63Cx`` with the tries left, ``63C0`` for the one that blocks; ``6983`` only once
  blocked, SP 800-73-4 part 2 §3.2.1); ``P1=FF`` logs out;
* ``RESET RETRY COUNTER`` with the PUK (``2C``);
* ``GENERAL AUTHENTICATE`` (``87``, algorithm ``11``, key ``9A``): ECDSA over the digest the
  host sent, with command chaining (CLA ``10``).

A re-SELECT keeps the PIN state; a reset or power-off clears it (the try counter stays).
Test and demonstration use only: the key is an ordinary software key.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth.errors import ConfigurationError

__all__ = ["PIV_AID", "PIV_ATR", "PivCard"]

PIV_AID: Final = bytes.fromhex("A000000308000010000100")
#: T=0 and T=1 offered, TA1 = 11, historical bytes "SBPIV". Not ``3B 80 80 01 01``: OpenSC
#: takes that ATR for a contactless PIVKey, which it assumes has no EC keys.
PIV_ATR: Final = bytes.fromhex("3B9511800153425049565B")
_APT: Final = bytes.fromhex("61114F0600001000010079074F05A000000308")
_CERT_9A: Final = bytes.fromhex("5FC105")
_PIN_REF: Final = 0x80
_PUK_REF: Final = 0x81
_ALG_P256: Final = 0x11
_KEY_9A: Final = 0x9A


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _tlv(tag: bytes, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        length = bytes([size])
    elif size < 0x100:
        length = bytes([0x81, size])
    else:
        length = bytes([0x82]) + size.to_bytes(2, "big")
    return tag + length + value


def _read_tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, value, next offset) of a one-byte-tag BER-TLV at ``at``."""
    tag = data[at]
    size = data[at + 1]
    at += 2
    if size == 0x81:
        size, at = data[at], at + 1
    elif size == 0x82:
        size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
    elif size > 0x82:
        raise ValueError("length")
    value = data[at : at + size]
    if len(value) != size:
        raise ValueError("short")
    return tag, value, at + size


@dataclass(frozen=True, slots=True)
class _Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int | None


def _parse(apdu: bytes) -> _Apdu:
    if len(apdu) < 4:
        raise ValueError("short")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return _Apdu(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return _Apdu(cla, ins, p1, p2, b"", body[0] or 256)
    if body[0] == 0 and len(body) >= 3:  # extended length
        size = int.from_bytes(body[1:3], "big")
        if len(body) == 3:
            return _Apdu(cla, ins, p1, p2, b"", size or 65536)
        data = body[3 : 3 + size]
        rest = body[3 + size :]
        if len(data) != size or len(rest) not in (0, 2):
            raise ValueError("length")
        ne = (int.from_bytes(rest, "big") or 65536) if rest else None
        return _Apdu(cla, ins, p1, p2, data, ne)
    size = body[0]
    data = body[1 : 1 + size]
    rest = body[1 + size :]
    if len(data) != size or len(rest) > 1:
        raise ValueError("length")
    return _Apdu(cla, ins, p1, p2, data, (rest[0] or 256) if rest else None)


class PivCard:
    """A PIV card with a P-256 key and its certificate in slot 9A. Thread-safe."""

    atr: bytes = PIV_ATR

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        *,
        pin: str = "123456",
        puk: str = "12345678",
        tries: int = 3,
    ) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigurationError("the software PIV card holds an EC P-256 key")
        if not 6 <= len(pin) <= 8 or not 6 <= len(puk) <= 8 or not 1 <= tries <= 15:
            raise ConfigurationError("a PIV PIN and PUK are 6-8 characters, 1-15 tries")
        self._key = key
        self._cert = certificate
        self._object = _tlv(
            b"\x53",
            _tlv(b"\x70", certificate.public_bytes(Encoding.DER)) + b"\x71\x01\x00" + b"\xfe\x00",
        )
        self._pin = pin.encode()
        self._puk = puk.encode()
        self._limit = tries
        self._tries = tries
        self._puk_tries = tries
        self._verified = False
        self._pending = b""
        self._chained = b""
        self._lock = threading.Lock()
        #: Every VERIFY with data the card received (for tests: the host's login attempts).
        self.verify_count = 0

    # -- what a test or an administrator sees -------------------------------------------

    @property
    def tries_left(self) -> int:
        return self._tries

    @property
    def blocked(self) -> bool:
        return self._tries == 0

    def unblock(self) -> None:
        """Reset the try counter (what the issuer's PUK procedure does)."""
        with self._lock:
            self._tries = self._limit
            self._verified = False

    # -- the VirtualCard protocol --------------------------------------------------------

    def power_on(self) -> None:
        self._clear()

    def power_off(self) -> None:
        self._clear()

    def reset(self) -> None:
        self._clear()

    def _clear(self) -> None:
        with self._lock:
            self._verified = False
            self._pending = b""
            self._chained = b""

    def transmit(self, apdu: bytes) -> bytes:
        return self.process(apdu)

    def process(self, apdu: bytes) -> bytes:
        try:
            command = _parse(apdu)
        except ValueError:
            return _sw(0x6700)
        with self._lock:
            if command.ins != 0xC0:
                self._pending = b""
            handler = {
                0xA4: self._select,
                0xCB: self._get_data,
                0xC0: self._get_response,
                0x20: self._verify,
                0x2C: self._reset_retry,
                0x87: self._general_authenticate,
            }.get(command.ins)
            if handler is None:
                return _sw(0x6D00)
            if command.cla & ~0x10 != 0x00:
                return _sw(0x6E00)
            if command.cla & 0x10 and command.ins != 0x87:
                return _sw(0x6884)
            try:
                return handler(command)
            except (ValueError, IndexError):
                return _sw(0x6A80)

    # -- answers -------------------------------------------------------------------------

    def _answer(self, data: bytes, ne: int | None) -> bytes:
        limit = ne or 256
        if len(data) <= limit:
            return data + _sw(0x9000)
        self._pending = data[limit:]
        return data[:limit] + bytes([0x61, min(len(self._pending), 256) & 0xFF])

    def _get_response(self, c: _Apdu) -> bytes:
        if not self._pending:
            return _sw(0x6985)
        data, self._pending = self._pending, b""
        return self._answer(data, c.ne)

    def _select(self, c: _Apdu) -> bytes:
        if c.p1 != 0x04:
            return _sw(0x6A86)
        if len(c.data) < 5 or not PIV_AID.startswith(c.data):
            return _sw(0x6A82)  # PIV stays selected
        return self._answer(_APT, c.ne)

    def _get_data(self, c: _Apdu) -> bytes:
        if (c.p1, c.p2) != (0x3F, 0xFF):
            return _sw(0x6A86)
        tag, value, _ = _read_tlv(c.data, 0)
        if tag != 0x5C:
            return _sw(0x6A80)
        if value != _CERT_9A:
            return _sw(0x6A82)
        return self._answer(self._object, c.ne)

    def _status(self) -> bytes:
        if self._tries == 0:
            return _sw(0x6983)
        return _sw(0x63C0 | self._tries)

    def _verify(self, c: _Apdu) -> bytes:
        if c.p2 != _PIN_REF:
            return _sw(0x6A88)
        if c.p1 == 0xFF:
            self._verified = False
            return _sw(0x9000)
        if c.p1 != 0x00:
            return _sw(0x6A86)
        if not c.data:
            if self._tries == 0:
                return _sw(0x6983)
            return _sw(0x9000) if self._verified else self._status()
        if len(c.data) != 8:
            return _sw(0x6A80)
        self.verify_count += 1
        if self._tries == 0:
            return _sw(0x6983)
        if c.data.rstrip(b"\xff") == self._pin:
            self._tries = self._limit
            self._verified = True
            return _sw(0x9000)
        # SP 800-73-4 part 2, 3.2.1: a wrong PIN answers 63 CX with the tries left, also
        # when that is now 0; 69 83 is only for a VERIFY on an already blocked PIN.
        self._tries -= 1
        self._verified = False
        return _sw(0x63C0 | self._tries)

    def _reset_retry(self, c: _Apdu) -> bytes:
        if c.p2 != _PIN_REF or len(c.data) != 16:
            return _sw(0x6A80)
        if self._puk_tries == 0:
            return _sw(0x6983)
        if c.data[:8].rstrip(b"\xff") != self._puk:
            self._puk_tries -= 1
            return _sw(0x63C0 | self._puk_tries)
        new_pin = c.data[8:].rstrip(b"\xff")
        if not 6 <= len(new_pin) <= 8:
            return _sw(0x6A80)
        self._puk_tries = self._limit
        self._pin, self._tries, self._verified = new_pin, self._limit, False
        return _sw(0x9000)

    def _general_authenticate(self, c: _Apdu) -> bytes:
        if c.cla & 0x10:
            self._chained += c.data
            if len(self._chained) > 4096:
                self._chained = b""
                return _sw(0x6700)
            return _sw(0x9000)
        data, self._chained = self._chained + c.data, b""
        if (c.p1, c.p2) != (_ALG_P256, _KEY_9A):
            return _sw(0x6A86)
        if not self._verified:
            return _sw(0x6982)
        tag, template, _ = _read_tlv(data, 0)
        if tag != 0x7C:
            return _sw(0x6A80)
        challenge = None
        at = 0
        while at < len(template):
            inner, value, at = _read_tlv(template, at)
            if inner == 0x81:
                challenge = value
        if challenge is None or len(challenge) != 32:
            return _sw(0x6A80)
        signature = self._key.sign(challenge, ec.ECDSA(Prehashed(hashes.SHA256())))
        return self._answer(_tlv(b"\x7c", _tlv(b"\x82", signature)), c.ne)
