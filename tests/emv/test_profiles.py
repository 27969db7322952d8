"""emv/profiles.py: the terminal data each reader family sends, checked against the GENERATE AC
commands that Vasco readers sent to real cards (doegox/EMV-CAP transcripts) and against the
PinSentry rules of python-emv (date 010101, TVR 8000000000, zeros elsewhere)."""

from __future__ import annotations

import dataclasses

import pytest

from securebox_auth.emv.profiles import (
    PINSENTRY_UK,
    PROFILES,
    SHIPPED_PROFILES,
    VASCO_BE_PAYMENT,
    VASCO_CAP,
    VASCO_DPA,
    CapMode,
    ReaderProfile,
    TerminalInput,
    amount_n12,
    challenge_un,
    dol_data,
    get_profile,
    numeric_currency,
)
from securebox_auth.emv.tlv import DolEntry, parse_dol
from securebox_auth.errors import MalformedInput

H = bytes.fromhex
STANDARD = parse_dol(H("9F02069F03069F1A0295055F2A029A039C019F3704"))
CAP_BE = parse_dol(H("9F02069F03069F1A0295055F2A029A039C019F37049F4C029F3403"))
CAP_BE_2 = parse_dol(H("8A029F02069F03069F1A0295055F2A029A039C019F37049F4C029F3403910A"))
ABNAMRO = parse_dol(H("9F02069F03069F1A0295055F2A029A039C019F37049F35019F45029F4C089F3403"))


def data_of(command: str) -> bytes:
    """The data field of a GENERATE AC command as the transcript shows it (no Le)."""
    raw = H(command)
    assert raw[4] == len(raw) - 5
    return raw[5:]


# GENERATE AC commands of Vasco readers, as doegox/EMV-CAP recorded them (Le not shown).
CAP_BE_M1 = "80AE80002200000000000000000000000000008000000000000000000000000000000000010002"
CAP_BE_M1_1234 = "80AE80002200000000000000000000000000008000000000000000000000000012340000010002"
VISA_DPA_BE_M1 = "80AE80002200000000000000000000000000008000000000000001010100000000000000010002"
ABNAMRO_M1 = (
    "80AE80002B000000000000000000000000000080000000000000000000002466"
    "11403400000000000000000000010002"
)
FC09_M1 = "80AE80001D0000000000000000000000000000800000000000000000000012345678"
CAP_BE_AAC = (
    "80AE00002E5A3300000000000000000000000000008000000000000000000000"
    "00001234000001000200000000000000000000"
)


@pytest.mark.parametrize(
    ("profile", "cdol", "typed", "command"),
    [
        (VASCO_CAP, CAP_BE, TerminalInput.identify(), CAP_BE_M1),
        (VASCO_CAP, CAP_BE, TerminalInput.respond("1234"), CAP_BE_M1_1234),
        (VASCO_DPA, CAP_BE, TerminalInput.identify(), VISA_DPA_BE_M1),
        (VASCO_CAP, ABNAMRO, TerminalInput.respond("24661140"), ABNAMRO_M1),
        (VASCO_CAP, STANDARD, TerminalInput.respond("12345678"), FC09_M1),
    ],
    ids=["cap_be m1", "cap_be m1 1234", "visa_dpa_be m1", "abnamro m1", "fc09 m1"],
)
def test_vasco_first_generate_ac(
    profile: ReaderProfile, cdol: tuple[DolEntry, ...], typed: TerminalInput, command: str
) -> None:
    assert dol_data(cdol, profile.values(typed, iaf=0)) == data_of(command)


def test_vasco_second_generate_ac_carries_z3() -> None:
    values = {**VASCO_CAP.values(TerminalInput.respond("1234"), iaf=0), **VASCO_CAP.cdol2}
    assert dol_data(CAP_BE_2, values) == data_of(CAP_BE_AAC)
    payment = {**VASCO_BE_PAYMENT.values(TerminalInput.identify(), iaf=0), **VASCO_BE_PAYMENT.cdol2}
    assert dol_data(CAP_BE_2, payment)[:2] == b"Z1"
    assert dol_data(CAP_BE_2, payment)[2 + 12 + 2 : 2 + 12 + 2 + 5] == H("8000000800")


def test_pinsentry_respond_and_sign() -> None:
    respond = dol_data(STANDARD, PINSENTRY_UK.values(TerminalInput.respond("12345678"), iaf=0xA0))
    assert respond == H("0000000000000000000000000000800000000000000101010012345678")
    # IAF A0: amount only, no currency (NatWest)
    sign = TerminalInput.sign("67890189", 12345, numeric_currency("GBP"))
    signed = dol_data(STANDARD, PINSENTRY_UK.values(sign, iaf=0xA0))
    assert signed == H("0000000123450000000000000000800000000000000101010067890189")
    # IAF 80 and C0 ("amount and currency"): UK readers still send currency 0000, as
    # python-emv and the Barclays reader do
    for iaf in (0x80, 0xC0):
        assert dol_data(STANDARD, PINSENTRY_UK.values(sign, iaf=iaf)) == signed
    # a profile that follows the IAF (a bank's own, registered) does fill 5F2A
    follows = dataclasses.replace(PINSENTRY_UK, name="follows_iaf", currency_from_iaf=True)
    assert dol_data(STANDARD, follows.values(sign, iaf=0x80))[19:21] == H("0826")
    assert dol_data(STANDARD, follows.values(sign, iaf=0xA0)) == signed
    identify = dol_data(STANDARD, PINSENTRY_UK.values(TerminalInput.identify(), iaf=0))
    assert identify == H("0000000000000000000000000000800000000000000101010000000000")


def test_modes_per_profile() -> None:
    assert not PINSENTRY_UK.supports(CapMode.TDS)
    assert not VASCO_CAP.supports(CapMode.SIGN)
    with pytest.raises(MalformedInput):
        PINSENTRY_UK.values(TerminalInput.tds_numbers(["1234"]), iaf=0)
    shipped = {"pinsentry_uk", "vasco_cap", "vasco_dpa", "vasco_be_payment"}
    assert shipped == SHIPPED_PROFILES
    assert shipped <= set(PROFILES)  # with those registered by a bank, if any
    assert get_profile("vasco_dpa") is VASCO_DPA
    with pytest.raises(MalformedInput):
        get_profile("nope")


def test_dol_fitting_follows_emv_rules() -> None:
    entries = (DolEntry(0x9F37, 2), DolEntry(0x9F4C, 2), DolEntry(0x9F02, 8), DolEntry(0x50, 0))
    values = {0x9F37: H("12345678"), 0x9F4C: H("AABBCC"), 0x9F02: H("0100")}
    # numeric: rightmost digits, left zero-fill; binary: leftmost bytes, right zero-fill
    assert dol_data(entries, values) == H("5678AABB0000000000000100")


def test_typed_values_are_checked() -> None:
    assert challenge_un("0530") == H("00000530")
    assert amount_n12(125050) == H("000000125050")
    for bad_challenge in ("", "123456789", "12a4", "١٢٣"):
        with pytest.raises(MalformedInput):
            challenge_un(bad_challenge)
    for bad_amount in (-1, 10**12):
        with pytest.raises(MalformedInput):
            amount_n12(bad_amount)
    with pytest.raises(MalformedInput):
        TerminalInput(CapMode.IDENTIFY, un=b"\x00")
    with pytest.raises(MalformedInput):
        TerminalInput(CapMode.IDENTIFY, tds=("1",))
    with pytest.raises(MalformedInput):
        TerminalInput(CapMode.SIGN, currency=1000)
    with pytest.raises(MalformedInput):
        numeric_currency("XXX")
    with pytest.raises(MalformedInput):
        ReaderProfile(name="x", label="x", modes=frozenset(), fixed={0x95: "8000"})  # type: ignore[dict-item]
