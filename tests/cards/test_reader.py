"""cards/reader.py: the CAP reader emulator in front of the software card, in-process."""

from __future__ import annotations

import pytest

from securebox_auth.cards.reader import (
    CapReader,
    CardError,
    NoCapApplication,
    PinBlocked,
    WrongPin,
    exchange,
)
from securebox_auth.cards.softcard import BlankCard, SoftEmvCard
from securebox_auth.emv import commands
from securebox_auth.emv.apdu import CommandApdu, ResponseApdu
from securebox_auth.emv.profiles import PINSENTRY_UK, VASCO_CAP, TerminalInput
from tests.cards.capworld import PIN, make_world


class T0Card:
    """The software card behind a T=0-style link: every answer with data first comes back
    as ``61xx`` (to be fetched with GET RESPONSE, in two parts), and a case 2 command with
    the wrong Le gets ``6Cxx``. Counts the APDUs it saw."""

    def __init__(self, card: SoftEmvCard) -> None:
        self.card = card
        self.pending = b""
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        command = CommandApdu.decode(apdu)
        if command.ins == 0xC0:
            size = min(command.ne or 256, len(self.pending))
            part, self.pending = self.pending[:size], self.pending[size:]
            sw = 0x6100 | min(len(self.pending), 255) if self.pending else 0x9000
            return part + sw.to_bytes(2, "big")
        if command.case == 2 and command.ne == 256 and command.ins == 0xCA:
            answer = ResponseApdu.decode(self.card.process(apdu))
            return (0x6C00 | len(answer.data)).to_bytes(2, "big")
        answer = ResponseApdu.decode(self.card.process(apdu))
        if answer.ok and answer.data:
            self.pending = answer.data
            first = len(self.pending) // 2 or 1
            return (0x6100 | first).to_bytes(2, "big")
        return answer.encode()


@pytest.mark.parametrize(("kind", "profile"), [("uk", PINSENTRY_UK), ("be", VASCO_CAP)])
def test_reader_runs_over_a_t0_link(kind: str, profile: object) -> None:
    world = make_world(kind)
    direct = world.code(TerminalInput.respond("1234"))
    link = T0Card(world.card)
    reading = CapReader(link, world.profile).run(TerminalInput.respond("1234"), PIN)
    assert reading.atc == 2
    assert reading.code != int(direct)  # a new ATC, a new code
    assert any(apdu[1] == 0xC0 for apdu in link.sent)
    assert any(apdu[:4] == bytes.fromhex("80CA9F17") and apdu[4] != 0 for apdu in link.sent)
    assert profile is world.profile


def test_exchange_concatenates_and_gives_up_on_endless_chaining() -> None:
    class Endless:
        def transmit(self, apdu: bytes) -> bytes:
            return bytes.fromhex("AA6101")

    with pytest.raises(CardError, match="61xx"):
        exchange(Endless(), CommandApdu(0, 0xB2, 1, 0x0C, ne=256))


def test_the_reader_shows_eight_digits_and_reads_the_try_counter() -> None:
    world = make_world()
    reading = world.reader().run(TerminalInput.identify(), PIN)
    assert len(reading.display) >= 8
    assert int(reading.display) == reading.code
    assert reading.pin_tries == 3
    assert reading.aid == bytes.fromhex("A0000000048002")


def test_pin_is_asked_only_once_the_card_is_read() -> None:
    world = make_world()
    asked: list[int] = []

    def ask() -> str:
        asked.append(world.card.state.atc)
        return PIN

    world.reader().run(TerminalInput.identify(), ask)
    assert asked == [1]  # after GET PROCESSING OPTIONS


def test_wrong_pin_then_blocked() -> None:
    world = make_world()
    reader = world.reader()
    for left in (2, 1, 0):
        with pytest.raises(WrongPin) as wrong:
            reader.run(TerminalInput.identify(), "0000")
        assert wrong.value.tries_left == left
    with pytest.raises(PinBlocked):
        reader.run(TerminalInput.identify(), PIN)
    # a reader that skips GET DATA still gets 6983 from VERIFY
    blocked = world.card
    blocked.reset()
    assert (
        blocked.process(commands.select(bytes.fromhex("A0000000048002")).encode())[-2:]
        == b"\x90\x00"
    )
    assert blocked.process(commands.get_processing_options().encode())[-2:] == b"\x90\x00"
    assert blocked.process(commands.verify_pin(PIN).encode()) == bytes.fromhex("6983")


def test_a_card_without_cap_and_a_card_without_ipb() -> None:
    with pytest.raises(NoCapApplication):
        CapReader(BlankCard(), PINSENTRY_UK).run(TerminalInput.identify(), PIN)
    world = make_world("be", changes={"ipb": None})  # enrolled for a Vasco reader (Belgian mix)
    assert CapReader(world.card, VASCO_CAP).run(TerminalInput.identify(), PIN).code >= 0
    with pytest.raises(CardError, match="no IPB"):
        CapReader(world.card, PINSENTRY_UK).run(TerminalInput.identify(), PIN)
