"""A software EMV card with a CAP application, answering APDUs like a real card.

What a CAP reader can ask (``docs/factors/cap.md`` lists where each behaviour comes from):

* SELECT by name: the PSE directory ``1PAY.SYS.DDF01`` (a record listing the CAP
  application) and the CAP application itself (exact or partial AID); case 3 and case 4;
* GET PROCESSING OPTIONS: increments the ATC (as python-emv observed of real cards), answers
  in format 1 or 2; the PDOL data are not checked (PinSentry-style readers send ``83 00``);
* READ RECORD: PAN, PSN and expiry in SFI 1, the CDOLs, the IPB, the IAF and a CVM list in
  SFI 2;
* GET DATA: PIN try counter (9F17), ATC (9F36);
* VERIFY with a plaintext PIN (P2 80): ``9000``, ``63Cx`` with ``x`` tries left, ``6983``
  once blocked; an empty VERIFY asks the status; with or without Le;
* GENERATE AC: an ARQC after a verified PIN (an AAC otherwise, or when asked), then an AAC
  for the second one, in format 1 or 2, with the card's own ATC and CVR.

No ``61xx`` chaining: every answer fits a short response. Every change of the ATC or of the
PIN try counter is written to the card file at once (when the card has one). Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from securebox_auth.cards.cardfile import SoftCardState, issuer_application_data
from securebox_auth.emv.apdu import ApduError, CommandApdu, ResponseApdu, StatusWord
from securebox_auth.emv.commands import PSE, parse_pin_block
from securebox_auth.emv.cryptogram import (
    application_cryptogram,
    get_recipe,
    recommended_terminal_data,
)
from securebox_auth.emv.genac import CryptogramType, GenerateAcResponse
from securebox_auth.emv.tlv import DolEntry, Tlv, dol_length, parse_dol
from securebox_auth.errors import MalformedInput

__all__ = ["ATR", "BlankCard", "SoftEmvCard"]

#: TS 3B, T0 80 (TD1 follows, no historical bytes), TD1 80 (T=0, TD2 follows), TD2 01
#: (T=1), TCK: a card offering both T=0 and T=1.
ATR: Final = bytes.fromhex("3B80800101")
_AFL: Final = bytes.fromhex("0801010010010100")
#: Plaintext PIN by the card (01), always (00); then "no CVM" (1F 03) as a fallback.
_CVM_LIST: Final = bytes.fromhex("000000000000000001001F03")
_SW = StatusWord


def _ok(data: bytes = b"") -> bytes:
    return ResponseApdu(data, _SW.OK).encode()


def _sw(sw: int) -> bytes:
    return ResponseApdu.status(sw).encode()


def _pan_bcd(pan: str) -> bytes:
    return bytes.fromhex(pan + ("F" if len(pan) % 2 else ""))


class BlankCard:
    """A card with no application: it answers, but knows nothing (the second vpcd slot)."""

    atr: bytes = ATR

    def power_on(self) -> None:
        """Nothing to reset."""

    def power_off(self) -> None:
        """Nothing to reset."""

    def reset(self) -> None:
        """Nothing to reset."""

    def transmit(self, apdu: bytes) -> bytes:
        return self.process(apdu)

    def process(self, apdu: bytes) -> bytes:
        try:
            command = CommandApdu.decode(apdu)
        except ApduError:
            return _sw(_SW.WRONG_LENGTH)
        return _sw(_SW.FILE_NOT_FOUND if command.ins == 0xA4 else _SW.INS_NOT_SUPPORTED)


class SoftEmvCard:
    """The card: feed it C-APDU bytes, get R-APDU bytes (data and status word)."""

    atr: bytes = ATR

    def __init__(self, state: SoftCardState, *, path: Path | None = None) -> None:
        self._state = state
        self._path = path
        self._lock = threading.RLock()
        self._selected: str | None = None
        self._pin_ok = False
        self._gpo_done = False
        self._acs = 0
        self._first_was_arqc = False
        handlers: dict[tuple[int, int], Callable[[CommandApdu], bytes]] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB2): self._read_record,
            (0x00, 0x20): self._verify,
            (0x80, 0xA8): self._gpo,
            (0x80, 0xCA): self._get_data,
            (0x80, 0xAE): self._generate_ac,
        }
        self._handlers = handlers

    @classmethod
    def from_file(cls, path: Path) -> SoftEmvCard:
        return cls(SoftCardState.load(path), path=path)

    @property
    def state(self) -> SoftCardState:
        return self._state

    def _store(self, state: SoftCardState) -> None:
        self._state = state
        if self._path is not None:
            state.save(self._path)

    def unblock_pin(self) -> None:
        """Reset the PIN try counter (the issuer's PIN UNBLOCK script, for tests and demos)."""
        with self._lock:
            self._store(replace(self._state, pin_tries=self._state.pin_try_limit))

    # -- power --------------------------------------------------------------------------

    def power_on(self) -> None:
        self.reset()

    def power_off(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._selected = None
            self._new_transaction()

    def _new_transaction(self) -> None:
        self._pin_ok = False
        self._gpo_done = False
        self._acs = 0
        self._first_was_arqc = False

    # -- dispatch -----------------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """The same as :meth:`process`: a reader can use the card directly as its transport."""
        return self.process(apdu)

    def process(self, apdu: bytes) -> bytes:
        try:
            command = CommandApdu.decode(apdu)
        except ApduError:
            return _sw(_SW.WRONG_LENGTH)
        handler = self._handlers.get((command.cla, command.ins))
        if handler is None:
            known_ins = {ins for _, ins in self._handlers}
            return _sw(_SW.CLA_NOT_SUPPORTED if command.ins in known_ins else _SW.INS_NOT_SUPPORTED)
        with self._lock:
            try:
                return handler(command)
            except MalformedInput:
                return _sw(_SW.WRONG_DATA)

    # -- SELECT and READ RECORD --------------------------------------------------------

    def _select(self, c: CommandApdu) -> bytes:
        if c.p1 != 0x04 or c.p2 not in (0x00, 0x02):
            return _sw(_SW.INCORRECT_P1P2)
        state = self._state
        if c.p2 == 0x02:
            return _sw(_SW.FILE_NOT_FOUND)
        if c.data == PSE:
            self._selected = "pse"
            self._new_transaction()
            fci = Tlv.of(0x6F, Tlv(0x84, PSE), Tlv.of(0xA5, Tlv(0x88, b"\x01")))
            return _ok(fci.encode())
        if c.data and state.aid.startswith(c.data):
            self._selected = "cap"
            self._new_transaction()
            proprietary = [Tlv(0x50, state.label.encode())]
            if state.pdol:
                proprietary.append(Tlv(0x9F38, state.pdol))
            if state.iaf_in_fci:
                proprietary.append(Tlv.of(0xBF0C, Tlv(0x9F55, bytes((state.iaf,)))))
            fci = Tlv.of(0x6F, Tlv(0x84, state.aid), Tlv.of(0xA5, *proprietary))
            return _ok(fci.encode())
        return _sw(_SW.FILE_NOT_FOUND)

    def _read_record(self, c: CommandApdu) -> bytes:
        if c.p2 & 0x07 != 0x04:
            return _sw(_SW.INCORRECT_P1P2)
        sfi, record, state = c.p2 >> 3, c.p1, self._state
        if self._selected == "pse" and (sfi, record) == (1, 1):
            entry = Tlv.of(
                0x61, Tlv(0x4F, state.aid), Tlv(0x50, state.label.encode()), Tlv(0x87, b"\x01")
            )
            return _ok(Tlv.of(0x70, entry).encode())
        if self._selected != "cap" or record != 1 or sfi not in (1, 2):
            return _sw(_SW.RECORD_NOT_FOUND if self._selected else _SW.CONDITIONS_NOT_SATISFIED)
        if sfi == 1:
            body = [
                Tlv(0x5A, _pan_bcd(state.pan)),
                Tlv(0x5F24, bytes.fromhex(state.expiry)),
                Tlv(0x5F34, bytes.fromhex(state.psn)),
            ]
        else:
            body = [Tlv(0x8C, state.cdol1), Tlv(0x8D, state.cdol2), Tlv(0x8E, _CVM_LIST)]
            if state.ipb is not None:
                body.append(Tlv(0x9F56, state.ipb))
            if not state.iaf_in_fci:
                body.append(Tlv(0x9F55, bytes((state.iaf,))))
        return _ok(Tlv.of(0x70, *body).encode())

    # -- GPO, GET DATA, VERIFY ---------------------------------------------------------

    def _gpo(self, c: CommandApdu) -> bytes:
        if self._selected != "cap" or self._gpo_done or self._acs:
            return _sw(_SW.CONDITIONS_NOT_SATISFIED)
        if c.p1 or c.p2:
            return _sw(_SW.INCORRECT_P1P2)
        if not c.data or c.data[0] != 0x83:
            return _sw(_SW.WRONG_DATA)
        state = self._state
        if state.atc >= 0xFFFF:
            return _sw(_SW.CONDITIONS_NOT_SATISFIED)
        self._store(replace(state, atc=state.atc + 1))
        self._gpo_done = True
        if state.gpo_format == 1:
            return _ok(Tlv(0x80, state.aip + _AFL).encode())
        return _ok(Tlv.of(0x77, Tlv(0x82, state.aip), Tlv(0x94, _AFL)).encode())

    def _get_data(self, c: CommandApdu) -> bytes:
        tag = (c.p1 << 8) | c.p2
        if tag == 0x9F17:
            return _ok(Tlv(0x9F17, bytes((self._state.pin_tries,))).encode())
        if tag == 0x9F36:
            return _ok(Tlv(0x9F36, self._state.atc.to_bytes(2, "big")).encode())
        return _sw(_SW.REFERENCED_DATA_NOT_FOUND)

    def _verify(self, c: CommandApdu) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return _sw(_SW.INCORRECT_P1P2)
        state = self._state
        if state.pin_tries == 0:
            return _sw(_SW.AUTH_METHOD_BLOCKED)
        if not c.data:
            return _sw(_SW.OK if self._pin_ok else _SW.WRONG_PIN | state.pin_tries)
        pin = parse_pin_block(c.data)
        if state.pin_matches(pin):
            self._pin_ok = True
            if state.pin_tries != state.pin_try_limit:
                self._store(replace(state, pin_tries=state.pin_try_limit))
            return _ok()
        self._pin_ok = False
        self._store(replace(state, pin_tries=state.pin_tries - 1))
        return _sw(_SW.WRONG_PIN | (state.pin_tries - 1))

    # -- GENERATE AC --------------------------------------------------------------------

    def _generate_ac(self, c: CommandApdu) -> bytes:
        if self._selected != "cap" or not self._gpo_done or self._acs >= 2:
            return _sw(_SW.CONDITIONS_NOT_SATISFIED)
        if c.p2 != 0x00 or c.p1 & 0xC0 == 0xC0:
            return _sw(_SW.INCORRECT_P1P2)
        state = self._state
        dol = parse_dol(state.cdol1 if self._acs == 0 else state.cdol2)
        if len(c.data) != dol_length(dol):
            return _sw(_SW.WRONG_LENGTH)
        asked = CryptogramType.of_cid(c.p1)
        if self._acs == 0:
            kind = CryptogramType.ARQC
            if asked is CryptogramType.AAC or not self._pin_ok:
                kind = CryptogramType.AAC
            iad = issuer_application_data(state, kind, None, pin_verified=self._pin_ok)
        else:
            kind = CryptogramType.AAC
            first = CryptogramType.ARQC if self._first_was_arqc else CryptogramType.AAC
            iad = issuer_application_data(state, first, kind, pin_verified=self._pin_ok)
        recipe = get_recipe(state.recipe)
        terminal = c.data
        if recipe.recommended_terminal_only and self._acs == 0:
            terminal = recommended_terminal_data(dol, c.data)
        ac = application_cryptogram(
            recipe,
            state.master_key,
            terminal=terminal,
            aip=state.aip,
            atc=state.atc,
            un=_value(dol, c.data, 0x9F37, 4),
            iad=iad,
        )
        self._first_was_arqc = self._acs == 0 and kind is CryptogramType.ARQC
        self._acs += 1
        answer = GenerateAcResponse(int(kind), state.atc, ac, iad)
        return _ok(answer.encode_format1() if state.genac_format == 1 else answer.encode_format2())


def _value(dol: tuple[DolEntry, ...], data: bytes, tag: int, size: int) -> bytes:
    pos = 0
    for entry in dol:
        if entry.tag == tag and entry.length == size:
            return data[pos : pos + size]
        pos += entry.length
    return bytes(size)
