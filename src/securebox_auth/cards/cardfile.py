"""The personalisation and state of a software EMV card, and its file.

:class:`SoftCardState` is everything a (software) CAP card holds: its application (AID,
label, data layout), its PAN and master key, its PIN (as a salted PBKDF2 hash) and PIN try
counter, and its ATC. It is saved as JSON with mode 0600 after every change, so a demo
card survives restarts. **The file is the card**: whoever reads it has the card key; keep it
like a private key. A 4-12 digit PIN hash cannot resist an offline search either, which is
why real cards keep the PIN in tamper-resistant memory.

:func:`demo_card` makes a card from a card template (:mod:`securebox_auth.emv.definitions`;
a bank may register its own): the two shipped ones are ``"uk"`` (as the NatWest card of the FC09
paper: Visa CVN 10 cryptogram, format 1 answers, 5 ATC bits and 20 AC bits in its codes)
and ``"be"`` (as Belgian cards read by Vasco readers: M/Chip CVN 16, format 2 answers, a
PDOL, the IAF in the FCI, 8 ATC bits and 18 AC bits).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from securebox_auth.emv.cryptogram import CardData, get_recipe
from securebox_auth.emv.definitions import get_card_template
from securebox_auth.emv.genac import CryptogramType
from securebox_auth.emv.tlv import parse_dol
from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = [
    "CAP_AID_MASTERCARD",
    "CAP_AID_VISA",
    "SoftCardState",
    "demo_card",
    "issuer_application_data",
    "luhn_pan",
]

#: Mastercard CAP ("SecureCode Aut") and Visa DPA application identifiers.
CAP_AID_MASTERCARD: Final = bytes.fromhex("A0000000048002")
CAP_AID_VISA: Final = bytes.fromhex("A0000000038002")
_PIN_ITERATIONS: Final = 20_000
_FORMAT: Final = "securebox/soft-emv-card/v1"


def _pin_hash(pin: str, salt: bytes) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _PIN_ITERATIONS)
    return f"{salt.hex()}:{digest.hex()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftCardState:
    """A CAP card's personalisation and counters. Secrets never appear in ``repr``."""

    aid: bytes
    label: str
    pan: str
    psn: str
    expiry: str
    master_key: bytes
    recipe: str
    dki: int = 1
    aip: bytes
    ipb: bytes | None
    iaf: int
    iaf_in_fci: bool = False
    cdol1: bytes
    cdol2: bytes
    pdol: bytes = b""
    pin_hash: str
    pin_try_limit: int = 3
    pin_tries: int = 3
    atc: int = 0
    gpo_format: int = 2
    genac_format: int = 2

    def __post_init__(self) -> None:
        get_recipe(self.recipe)
        parse_dol(self.cdol1)
        parse_dol(self.cdol2)
        parse_dol(self.pdol)
        if len(self.master_key) != 16 or len(self.aip) != 2 or not 5 <= len(self.aid) <= 16:
            raise MalformedInput("a 16-byte key, a 2-byte AIP and a 5-16 byte AID")
        if not 0 <= self.pin_tries <= self.pin_try_limit <= 15 or not 0 <= self.atc <= 0xFFFF:
            raise MalformedInput("PIN tries 0-15 and an ATC of 0-65535")
        if self.gpo_format not in (1, 2) or self.genac_format not in (1, 2):
            raise MalformedInput("answer formats are 1 or 2")

    def pin_matches(self, pin: str) -> bool:
        salt, _, _ = self.pin_hash.partition(":")
        return hmac.compare_digest(_pin_hash(pin, bytes.fromhex(salt)), self.pin_hash)

    def with_pin(self, pin: str) -> SoftCardState:
        return replace(self, pin_hash=_pin_hash(pin, secrets.token_bytes(16)))

    def predicted_iad(self) -> bytes:
        """The IAD of a PIN-verified ARQC in the first GENERATE AC (what the issuer stores)."""
        return issuer_application_data(self, CryptogramType.ARQC, None, pin_verified=True)

    def to_json(self) -> str:
        data: dict[str, Any] = {"format": _FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.hex() if isinstance(value, bytes) else value
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SoftCardState:
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.pop("format", None) != _FORMAT:
                raise ConfigurationError("not a securebox software card file")
            for f in fields(cls):
                if f.type in ("bytes", "bytes | None") and data.get(f.name) is not None:
                    data[f.name] = bytes.fromhex(data[f.name])
            return cls(**data)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ConfigurationError(f"unreadable card file ({type(exc).__name__})") from None

    def save(self, path: Path) -> None:
        """Write atomically, readable by the owner only."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SoftCardState:
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read the card file: {exc.strerror}") from None

    def __repr__(self) -> str:
        return f"SoftCardState(aid={self.aid.hex().upper()}, pan=…{self.pan[-4:]}, atc={self.atc})"


def issuer_application_data(
    state: SoftCardState,
    first: CryptogramType,
    second: CryptogramType | None,
    *,
    pin_verified: bool,
) -> bytes:
    """The card's IAD (9F10) after a GENERATE AC, with its CVR.

    Visa layout (7 bytes): ``06 DKI CVN 03 b2 b3 00``; CVR byte 2 holds the cryptogram of
    the 2nd GENERATE AC (bits 8-7: AAC 00, TC 01, not requested 10), of the 1st (bits 6-5:
    AAC 00, TC 01, ARQC 10) and "offline PIN performed" (bit 3); byte 3 bit 8 says the last
    online transaction was not completed, as on cards only ever used for CAP.
    M/Chip layout (18 bytes): ``DKI CVN CVR(6) DAC(2) counters(8)``, CVR byte 1 as above
    with bit 1 "offline PIN successful".
    """
    recipe = get_recipe(state.recipe)
    second_bits = 0x80 if second is None else (0x40 if second is CryptogramType.TC else 0x00)
    first_bits = {CryptogramType.AAC: 0x00, CryptogramType.TC: 0x10, CryptogramType.ARQC: 0x20}
    cvr1 = second_bits | first_bits[first] | (0x04 if pin_verified else 0x00)
    if recipe.card_data is CardData.MCHIP_CVR:
        cvr = bytes((cvr1 | (0x01 if pin_verified else 0x00), 0, 0, 0, 0, 0))
        return bytes((state.dki, recipe.cvn)) + cvr + bytes(10)
    return bytes((0x06, state.dki, recipe.cvn, 0x03, cvr1, 0x80, 0x00))


def luhn_pan(prefix: str, length: int = 16) -> str:
    """A random PAN starting with ``prefix``, with a valid Luhn check digit."""
    body = prefix + "".join(secrets.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def demo_card(kind: str, *, master_key: bytes, pan: str, psn: str, pin: str) -> SoftCardState:
    """A software card made from the card template ``kind``: the shipped ``"uk"`` and
    ``"be"`` (see the module documentation) or one a bank registered
    (:mod:`securebox_auth.emv.definitions`)."""
    t = get_card_template(kind)
    return SoftCardState(
        aid=t.aid, label=t.label, pan=pan, psn=psn, expiry=t.expiry, master_key=master_key,
        recipe=t.recipe, dki=t.dki, aip=t.aip, ipb=t.ipb, iaf=t.iaf, iaf_in_fci=t.iaf_in_fci,
        cdol1=t.cdol1, cdol2=t.cdol2, pdol=t.pdol,
        pin_hash=_pin_hash(pin, secrets.token_bytes(16)), pin_try_limit=t.pin_try_limit,
        pin_tries=t.pin_try_limit, gpo_format=t.gpo_format, genac_format=t.genac_format,
    )  # fmt: skip
