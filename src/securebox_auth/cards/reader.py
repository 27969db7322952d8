"""A CAP reader emulator: what a PinSentry or Vasco reader does with a bank card.

:class:`CapReader` talks to any card through a :class:`Transport` (bytes in, bytes out):
the software card in-process, or any PC/SC reader through
:class:`securebox_auth.cards.pcsc.PcscTransport`, with a real card too. One run
(:meth:`CapReader.run`):

1. find the CAP application: the PSE directory first, else the known CAP AIDs in order
   (Mastercard CAP, Visa DPA, PostFinance), as doegox/EMV-CAP does;
2. GET PROCESSING OPTIONS (with the PDOL filled or an empty ``83 00``, per the profile);
3. READ RECORD of every record of the AFL (CDOL1, CDOL2, IPB, IAF, PSN);
4. GET DATA of the PIN try counter, then VERIFY the plaintext PIN (asked only now, like a
   reader, through a callable: the command line passes :func:`getpass.getpass`);
5. GENERATE AC for an ARQC over the terminal data of the profile and mode; a second one for
   an AAC when the profile sends it;
6. the TDS step in TDS mode, then the IPB filter: the code.

T=0 cards answer ``61xx`` (more data: GET RESPONSE) and ``6Cxx`` (wrong Le: send again);
:func:`exchange` handles both and concatenates the parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

from securebox_auth.emv import commands
from securebox_auth.emv.apdu import CommandApdu, ResponseApdu, StatusWord
from securebox_auth.emv.cap import IAF_PSN, CapCodec, tds_mac
from securebox_auth.emv.genac import CryptogramType, GenerateAcResponse
from securebox_auth.emv.profiles import ReaderProfile, TerminalInput, dol_data
from securebox_auth.emv.tlv import Tlv, TlvError, decode, decode_one, find, parse_dol
from securebox_auth.errors import SecureboxError

__all__ = [
    "KNOWN_CAP_AIDS",
    "CapReader",
    "CapReading",
    "CardError",
    "NoCapApplication",
    "PinBlocked",
    "Transport",
    "WrongPin",
    "exchange",
]

#: Mastercard CAP, Visa DPA, PostFinance: the applications a CAP reader looks for.
KNOWN_CAP_AIDS: Final = tuple(
    bytes.fromhex(a) for a in ("A0000000048002", "A0000000038002", "A0000001118002")
)
_MAX_CHAINED: Final = 16


class Transport(Protocol):
    """A channel to one card: a C-APDU in, the R-APDU (data and status word) out."""

    def transmit(self, apdu: bytes) -> bytes: ...


class CardError(SecureboxError):
    """The card refused or answered something a CAP reader cannot use."""

    code: ClassVar[str] = "card_error"

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message if sw is None else f"{message} (SW {sw:04X})")
        self.sw = sw


class NoCapApplication(CardError):
    code: ClassVar[str] = "no_cap_application"


class WrongPin(CardError):
    """A wrong PIN; ``tries_left`` before the card blocks it."""

    code: ClassVar[str] = "wrong_pin"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN: {tries_left} tries left")
        self.tries_left = tries_left


class PinBlocked(CardError):
    code: ClassVar[str] = "pin_blocked"

    def __init__(self) -> None:
        super().__init__("the PIN is blocked: the card refuses every PIN")


def exchange(transport: Transport, command: CommandApdu) -> ResponseApdu:
    """Send ``command``, following ``6Cxx`` and ``61xx`` the way a T=0 reader does."""
    response = ResponseApdu.decode(transport.transmit(command.encode()))
    if response.sw1 == 0x6C:
        fixed = CommandApdu(
            command.cla, command.ins, command.p1, command.p2, command.data, response.sw2 or 256
        )
        response = ResponseApdu.decode(transport.transmit(fixed.encode()))
    data = response.data
    for _ in range(_MAX_CHAINED):
        if response.sw1 != 0x61:
            return ResponseApdu(data, response.sw)
        more = CommandApdu(0x00, 0xC0, 0x00, 0x00, ne=response.sw2 or 256)
        response = ResponseApdu.decode(transport.transmit(more.encode()))
        data += response.data
    raise CardError("the card kept answering 61xx")


@dataclass(frozen=True, slots=True)
class CapReading:
    """What the reader displays, and what it read on the way."""

    code: int
    atc: int
    aid: bytes
    pin_tries: int | None

    @property
    def display(self) -> str:
        """The code as readers show it: at least 8 digits, left-padded with zeros."""
        return f"{self.code:08d}"


@dataclass(frozen=True, slots=True)
class _CardData:
    aid: bytes
    fci: tuple[Tlv, ...]
    records: tuple[Tlv, ...]

    def get(self, tag: int) -> bytes | None:
        found = find(self.records, tag) or find(self.fci, tag)
        return None if found is None else found.value


class CapReader:
    """One CAP reader of a given profile, in front of one card."""

    def __init__(
        self,
        transport: Transport,
        profile: ReaderProfile,
        *,
        aids: Sequence[bytes] = KNOWN_CAP_AIDS,
    ) -> None:
        self._transport = transport
        self._profile = profile
        self._aids = tuple(aids)

    def _send(self, command: CommandApdu, what: str) -> ResponseApdu:
        response = exchange(self._transport, command)
        if not response.ok:
            raise CardError(f"{what} failed", response.sw)
        return response

    def _select_cap(self) -> tuple[bytes, tuple[Tlv, ...]]:
        candidates = [*self._pse_aids(), *self._aids]
        for aid in candidates:
            response = exchange(self._transport, commands.select(aid))
            if response.ok:
                return aid, decode(response.data, skip_padding=True)
        raise NoCapApplication("no CAP application on this card")

    def _pse_aids(self) -> list[bytes]:
        response = exchange(self._transport, commands.select(commands.PSE))
        if not response.ok:
            return []
        sfi_tlv = find(decode(response.data, skip_padding=True), 0x88)
        if sfi_tlv is None or len(sfi_tlv.value) != 1:
            return []
        found: list[bytes] = []
        for record in range(1, 31):
            answer = exchange(self._transport, commands.read_record(sfi_tlv.value[0], record))
            if not answer.ok:
                break
            for entry in decode_one(answer.data, expected_tag=0x70).children():
                aid = find((entry,), 0x4F)
                if entry.tag == 0x61 and aid is not None and aid.value in self._aids:
                    found.append(aid.value)
        return found

    def _read_application(self) -> _CardData:
        aid, fci = self._select_cap()
        pdol_tlv = find(fci, 0x9F38)
        pdol_data = b""
        if self._profile.pdol is not None and pdol_tlv is not None:
            pdol_data = dol_data(parse_dol(pdol_tlv.value), self._profile.pdol)
        gpo = self._send(commands.get_processing_options(pdol_data), "GET PROCESSING OPTIONS")
        template = decode_one(gpo.data)
        if template.tag == 0x80:
            afl = template.value[2:]
        else:
            afl_tlv = find(template.children(), 0x94)
            afl = afl_tlv.value if afl_tlv is not None else b""
        if not afl or len(afl) % 4:
            raise CardError("the card's AFL is malformed")
        records: list[Tlv] = []
        for i in range(0, len(afl), 4):
            sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
            for number in range(first, last + 1):
                answer = self._send(commands.read_record(sfi, number), "READ RECORD")
                records.extend(decode(answer.data, skip_padding=True))
        return _CardData(aid, fci, tuple(records))

    def _verify(self, pin: str | Callable[[], str]) -> int | None:
        tries_answer = exchange(self._transport, commands.get_data(0x9F17))
        tries: int | None = None
        if tries_answer.ok:
            counter = find(decode(tries_answer.data), 0x9F17)
            tries = counter.value[0] if counter is not None and counter.value else None
        if tries == 0:
            raise PinBlocked
        typed = pin() if callable(pin) else pin
        response = exchange(self._transport, commands.verify_pin(typed))
        left = response.tries_left()
        if left is not None:
            raise WrongPin(left)
        if response.sw == StatusWord.AUTH_METHOD_BLOCKED:
            raise PinBlocked
        if not response.ok:
            raise CardError("VERIFY failed", response.sw)
        return tries

    def run(self, data: TerminalInput, pin: str | Callable[[], str]) -> CapReading:
        """One code for ``data`` (mode and typed values); ``pin`` or a callable asking it."""
        profile = self._profile
        card = self._read_application()
        cdol1, cdol2 = card.get(0x8C), card.get(0x8D)
        if cdol1 is None:
            raise CardError("the card has no CDOL1")
        iaf_raw, psn = card.get(0x9F55), card.get(0x5F34)
        iaf = iaf_raw[0] if iaf_raw else 0
        ipb = card.get(0x9F56)
        if ipb is None and not profile.belgian_fallback:
            raise CardError(f"the card has no IPB and a {profile.label} needs one")
        values = profile.values(data, iaf=iaf)
        tries = self._verify(pin)
        first_data = dol_data(parse_dol(cdol1), values)
        first = self._send(commands.generate_ac(CryptogramType.ARQC, first_data), "GENERATE AC")
        try:
            answer = GenerateAcResponse.parse(first.data)
        except TlvError as exc:
            raise CardError(f"unreadable GENERATE AC answer: {exc}") from None
        if answer.cryptogram_type is not CryptogramType.ARQC:
            raise CardError("the card declined (no ARQC)")
        if profile.second_generate_ac and cdol2 is not None:
            second = dol_data(parse_dol(cdol2), {**values, **profile.cdol2})
            exchange(self._transport, commands.generate_ac(CryptogramType.AAC, second))
        ac = tds_mac(answer.ac, data.tds) if data.tds else answer.ac
        codec = CapCodec(ipb, include_psn=bool(iaf & IAF_PSN))
        code = codec.code(cid=answer.cid, atc=answer.atc, ac=ac, iad=answer.iad, psn=psn)
        return CapReading(code, answer.atc, card.aid, tries)
