"""cards/softcard.py and cards/cardfile.py: the software card, APDU by APDU."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from securebox_auth.cards.cardfile import SoftCardState, demo_card, luhn_pan
from securebox_auth.cards.softcard import ATR, BlankCard, SoftEmvCard
from securebox_auth.emv import commands
from securebox_auth.emv.apdu import CommandApdu, ResponseApdu, StatusWord
from securebox_auth.emv.genac import CryptogramType, GenerateAcResponse
from securebox_auth.emv.tlv import decode_one, find
from securebox_auth.errors import ConfigurationError, MalformedInput
from tests.cards.capworld import PIN, make_world

H = bytes.fromhex
AID = H("A0000000048002")


def send(card: SoftEmvCard | BlankCard, command: CommandApdu | str) -> ResponseApdu:
    raw = command.encode() if isinstance(command, CommandApdu) else H(command)
    return ResponseApdu.decode(card.process(raw))


def ready(card: SoftEmvCard) -> None:
    """SELECT and GET PROCESSING OPTIONS."""
    assert send(card, commands.select(AID)).ok
    assert send(card, commands.get_processing_options()).ok


def test_atr_offers_t0_and_t1() -> None:
    assert ATR[0] == 0x3B
    t0, td1, td2 = ATR[1], ATR[2], ATR[3]
    assert t0 & 0x80
    assert td1 & 0x0F == 0
    assert td2 & 0x0F == 1
    check = 0
    for byte in ATR[1:]:
        check ^= byte
    assert check == 0  # TCK


def test_pse_directory_lists_the_cap_application() -> None:
    card = make_world().card
    fci = send(card, commands.select(commands.PSE))
    assert fci.ok
    assert find((decode_one(fci.data),), 0x88) is not None
    record = send(card, commands.read_record(1, 1))
    entry = find((decode_one(record.data),), 0x4F)
    assert entry is not None
    assert entry.value == AID
    assert send(card, commands.read_record(1, 2)).sw == StatusWord.RECORD_NOT_FOUND


@pytest.mark.parametrize("select", ["00A4040007A0000000048002", "00A4040007A000000004800200"])
def test_select_case_3_and_case_4_and_partial_aid(select: str) -> None:
    card = make_world().card
    answer = send(card, select)
    assert answer.ok
    assert find((decode_one(answer.data),), 0x84) is not None
    assert send(card, "00A4040005A000000004").ok  # partial AID
    assert send(card, "00A4040007A0000000031010").sw == StatusWord.FILE_NOT_FOUND
    assert send(card, "00A4040207A0000000048002").sw == StatusWord.FILE_NOT_FOUND  # next
    assert send(card, "00A4000007A0000000048002").sw == StatusWord.INCORRECT_P1P2


def test_belgian_style_fci_carries_pdol_and_iaf() -> None:
    card = make_world("be").card
    fci = decode_one(send(card, commands.select(AID)).data)
    pdol, iaf = find((fci,), 0x9F38), find((fci,), 0x9F55)
    assert pdol is not None
    assert pdol.value == H("9F3501")
    assert iaf is not None
    assert iaf.value == b"\x00"


def test_gpo_formats_records_and_atc() -> None:
    uk, be = make_world().card, make_world("be").card
    send(uk, commands.select(AID))
    format1 = send(uk, commands.get_processing_options())
    assert format1.data[:2] == H("800A")
    assert uk.state.atc == 1
    assert send(uk, commands.get_processing_options()).sw == StatusWord.CONDITIONS_NOT_SATISFIED
    send(be, commands.select(AID))
    format2 = decode_one(send(be, "80A8000003830134" + "00").data)
    assert format2.tag == 0x77
    assert find(format2.children(), 0x94) is not None
    first = decode_one(send(uk, commands.read_record(1, 1)).data)
    pan = find(first.children(), 0x5A)
    assert pan is not None
    assert pan.value.hex().rstrip("f") == uk.state.pan
    second = decode_one(send(uk, commands.read_record(2, 1)).data)
    for tag in (0x8C, 0x8D, 0x9F56, 0x9F55, 0x8E):
        assert find(second.children(), tag) is not None
    assert send(uk, commands.read_record(3, 1)).sw == StatusWord.RECORD_NOT_FOUND
    assert send(uk, "00B2010800").sw == StatusWord.INCORRECT_P1P2


def test_get_data() -> None:
    card = make_world().card
    assert send(card, commands.get_data(0x9F17)).data == H("9F170103")
    assert send(card, commands.get_data(0x9F36)).data == H("9F36020000")
    assert send(card, commands.get_data(0x9F13)).sw == StatusWord.REFERENCED_DATA_NOT_FOUND


def test_verify_counts_tries_and_blocks() -> None:
    card = make_world().card
    ready(card)
    assert send(card, "0020008000").sw == StatusWord.WRONG_PIN | 3  # status query
    assert send(card, commands.verify_pin("0000")).sw == 0x63C2
    assert send(card, commands.verify_pin(PIN)).ok  # the counter is back to 3
    assert card.state.pin_tries == 3
    assert send(card, "0020008000").ok  # verified
    for left in (2, 1, 0):
        assert send(card, commands.verify_pin("0000")).sw == 0x63C0 | left
    assert send(card, commands.verify_pin(PIN)).sw == StatusWord.AUTH_METHOD_BLOCKED
    assert send(card, "0020008000").sw == StatusWord.AUTH_METHOD_BLOCKED
    card.unblock_pin()
    # python-emv 1.0.14 sends VERIFY with Le: accepted too
    assert send(card, commands.verify_pin(PIN).encode().hex() + "00").ok
    assert send(card, "002000800812").sw == StatusWord.WRONG_LENGTH
    assert send(card, "00200080081234FFFFFFFFFFFF").sw == StatusWord.WRONG_DATA
    assert (
        send(card, "00200088082412 34FFFFFFFFFF".replace(" ", "")).sw == StatusWord.INCORRECT_P1P2
    )


def test_generate_ac_arqc_then_aac() -> None:
    card = make_world().card
    ready(card)
    send(card, commands.verify_pin(PIN))
    first = send(card, commands.generate_ac(CryptogramType.ARQC, bytes(29)))
    answer = GenerateAcResponse.parse(first.data)
    assert answer.cryptogram_type is CryptogramType.ARQC
    assert answer.atc == 1
    assert answer.iad == card.state.predicted_iad() == H("06010A03A48000")
    assert first.data[0] == 0x80  # format 1, as the NatWest card
    second = send(card, commands.generate_ac(CryptogramType.AAC, bytes(31)))
    after = GenerateAcResponse.parse(second.data)
    assert after.cryptogram_type is CryptogramType.AAC
    assert after.iad[4] == 0x24
    assert send(card, commands.generate_ac(CryptogramType.AAC, bytes(31))).sw == (
        StatusWord.CONDITIONS_NOT_SATISFIED
    )


def test_generate_ac_without_pin_is_declined_and_conditions_are_checked() -> None:
    card = make_world("be").card
    assert send(card, commands.generate_ac(CryptogramType.ARQC, bytes(34))).sw == (
        StatusWord.CONDITIONS_NOT_SATISFIED
    )
    ready(card)
    assert (
        send(card, commands.generate_ac(CryptogramType.ARQC, bytes(29))).sw
        == StatusWord.WRONG_LENGTH
    )
    assert send(card, "80AEC00022" + "00" * 34).sw == StatusWord.INCORRECT_P1P2
    answer = send(card, commands.generate_ac(CryptogramType.ARQC, bytes(34)))
    assert answer.data[0] == 0x77  # format 2
    assert GenerateAcResponse.parse(answer.data).cryptogram_type is CryptogramType.AAC


def test_unknown_commands_and_classes() -> None:
    card = make_world().card
    assert send(card, "00CA9F1700").sw == StatusWord.CLA_NOT_SUPPORTED
    assert send(card, "00840000 08".replace(" ", "")).sw == StatusWord.INS_NOT_SUPPORTED
    assert send(card, "00A4").sw == StatusWord.WRONG_LENGTH
    blank = BlankCard()
    assert send(blank, commands.select(AID)).sw == StatusWord.FILE_NOT_FOUND
    assert send(blank, "80CA9F1700").sw == StatusWord.INS_NOT_SUPPORTED
    assert send(blank, "00").sw == StatusWord.WRONG_LENGTH
    blank.power_on()
    blank.reset()
    blank.power_off()


def test_reset_forgets_the_transaction_but_not_the_counters() -> None:
    card = make_world().card
    ready(card)
    send(card, commands.verify_pin("0000"))
    card.reset()
    assert send(card, commands.generate_ac(CryptogramType.ARQC, bytes(29))).sw == (
        StatusWord.CONDITIONS_NOT_SATISFIED
    )
    assert card.state.atc == 1
    assert card.state.pin_tries == 2


def test_state_is_persisted_to_its_file(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    world = make_world(path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ready(world.card)
    send(world.card, commands.verify_pin("0000"))
    reloaded = SoftEmvCard.from_file(path)
    assert reloaded.state.atc == 1
    assert reloaded.state.pin_tries == 2
    assert reloaded.state == world.card.state
    body = json.loads(path.read_text())
    assert PIN not in json.dumps(body["pin_hash"])
    assert body["format"].startswith("securebox/")
    assert "master_key" not in repr(reloaded.state)
    assert world.pan not in repr(reloaded.state)
    path.write_text('{"format": "other"}')
    with pytest.raises(ConfigurationError):
        SoftCardState.load(path)
    with pytest.raises(ConfigurationError):
        SoftCardState.load(tmp_path / "missing.json")


def test_card_state_validation_and_demo_kinds() -> None:
    pan = luhn_pan("999999")
    assert len(pan) == 16
    assert pan.startswith("999999")
    state = demo_card("uk", master_key=bytes(16), pan=pan, psn="01", pin=PIN)
    assert state.pin_matches(PIN)
    assert not state.pin_matches("0000")
    assert state.with_pin("9999").pin_matches("9999")
    with pytest.raises(ConfigurationError):
        demo_card("fr", master_key=bytes(16), pan=pan, psn="01", pin=PIN)
    for bad in ({"master_key": bytes(8)}, {"pin_tries": 4}, {"atc": -1}, {"gpo_format": 3}):
        with pytest.raises(MalformedInput):
            replace(state, **bad)
    with pytest.raises(MalformedInput):
        replace(state, recipe="nope")
