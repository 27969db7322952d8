"""emv/des.py, mac.py, derivation.py, cryptogram.py: known answers.

The vectors are the HSM-checked ones of pyemv (knovichikhin/pyemv, MIT): ``tests/test_kd_hsm.py``,
``tests/test_ac_hsm.py``, ``tests/test_cvn_hsm.py`` and ``tests/test_mac.py``. Key check
values are the first 2 bytes of the encryption of a zero block, as pyemv compares them.
pytest runs with ``filterwarnings = error``: a deprecation warning from cryptography's
TripleDES (8- or 16-byte keys) would fail every test here.
"""

from __future__ import annotations

import warnings

import pytest

from securebox_auth.emv.cryptogram import (
    MASTERCARD_CVN16,
    MASTERCARD_CVN20,
    RECIPES,
    VISA_CVN10,
    VISA_CVN18,
    CardData,
    CvnRecipe,
    application_cryptogram,
    card_data,
    cryptogram_input,
    get_recipe,
    recommended_terminal_data,
)
from securebox_auth.emv.derivation import (
    SessionKeyMethod,
    common_session_key,
    diversification_value,
    icc_master_key,
    session_key,
)
from securebox_auth.emv.des import (
    cbc_encrypt,
    ecb_decrypt,
    ecb_encrypt,
    full_key,
    key_check_value,
    odd_parity,
    xor,
)
from securebox_auth.emv.mac import Padding, cbc_mac, pad, retail_mac
from securebox_auth.emv.tlv import parse_dol
from securebox_auth.errors import MalformedInput

H = bytes.fromhex
IMK = H("0123456789ABCDEFFEDCBA9876543210")
R = H("1234567890123456")
DATA16 = H("0123456789ABCDEF0123456789ABCDEF")


def kcv(key: bytes) -> str:
    return key_check_value(key, 2).hex().upper()


def test_issuer_master_key_check_value() -> None:
    assert kcv(IMK) == "08D7"


@pytest.mark.parametrize(
    ("pan", "psn", "mk_kcv", "sk_kcv", "arqc"),
    [
        # test_kd_hsm.py: option A with a PSN, without one; test_ac_hsm.py: 16-digit PAN
        ("12345678901234567", "45", "FF08", "DF82", "19C1FBC83EBDC0D5"),
        ("12345678901234567", "00", None, "3F4F", "8698A7319324FD93"),
        ("9901234567890123", "45", "1DA5", "0995", "4B46013359B7A58B"),
    ],
)
def test_option_a_common_session_key_and_arqc(
    pan: str, psn: str, mk_kcv: str | None, sk_kcv: str, arqc: str
) -> None:
    mk = icc_master_key(IMK, pan, psn)
    if mk_kcv is not None:
        assert kcv(mk) == mk_kcv
    sk = common_session_key(mk, R)
    assert kcv(sk) == sk_kcv
    assert retail_mac(sk, DATA16, Padding.METHOD_2).hex().upper() == arqc


def test_visa_padding_vectors() -> None:
    sk = common_session_key(icc_master_key(IMK, "9901234567890123", "45"), R)
    # method 1 pads when needed, and adds nothing to whole blocks
    assert retail_mac(sk, DATA16 + b"\x01", Padding.METHOD_1).hex().upper() == "2E141C6BC4A20DA8"
    assert retail_mac(sk, DATA16, Padding.METHOD_1).hex().upper() == "922F3E83125EB46B"


def test_mac_algorithm_3_vectors() -> None:
    key = H("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB")
    assert retail_mac(key, b"hello world", Padding.METHOD_1).hex().upper() == "78DA3D3DEB48FD4D"
    assert retail_mac(key, b"hello world", Padding.METHOD_2).hex().upper() == "2BC2D9EDE0CF31F6"


def test_mac_algorithm_3_matches_its_definition() -> None:
    key, data = H("0123456789ABCDEFFEDCBA9876543210"), bytes(range(40))
    padded = pad(data, Padding.METHOD_2)
    chain = bytes(8)
    for i in range(0, len(padded), 8):
        chain = ecb_encrypt(key[:8], xor(chain, padded[i : i + 8]))
    expected = ecb_encrypt(key[:8], ecb_decrypt(key[8:], chain))
    assert retail_mac(key, data, Padding.METHOD_2) == expected


def test_padding() -> None:
    assert pad(b"", Padding.METHOD_1) == bytes(8)
    assert pad(b"F" * 8, Padding.METHOD_1) == b"F" * 8
    assert pad(b"F" * 3, Padding.METHOD_1) == b"FFF" + bytes(5)
    assert pad(b"", Padding.METHOD_2) == b"\x80" + bytes(7)
    assert pad(b"F" * 8, Padding.METHOD_2) == b"F" * 8 + b"\x80" + bytes(7)
    with pytest.raises(MalformedInput):
        retail_mac(bytes(8), b"", Padding.METHOD_1)
    with pytest.raises(MalformedInput):
        cbc_mac(bytes(8), b"")


# test_cvn_hsm.py: one card, PAN 1234567890123456, PSN 00, ATC 001C.
CVN_PAN, ATC = "1234567890123456", 0x001C
VISA_TERMINAL = H("0000000040000000000000000124800004800001241911050152BF4585")
MC_TERMINAL = H("00000000999900000000000001248000000000012420990600ABCDEF12")
MC_IAD = H("0110A00003220000000000000000000000FF")


@pytest.mark.parametrize(
    ("recipe", "terminal", "un", "iad", "arqc", "sk_kcv"),
    [
        (VISA_CVN10, VISA_TERMINAL, H("52BF4585"), H("06010A03A06010"), "29CCA15AE665FA2E", "BAB0"),
        (VISA_CVN18, VISA_TERMINAL, H("52BF4585"), H("06011203A0B800"), "7A788EA6B8A3E733", "22C8"),
        (MASTERCARD_CVN16, MC_TERMINAL, H("ABCDEF12"), MC_IAD, "24CCF3DEE3158C70", "2FD5"),
        (MASTERCARD_CVN20, MC_TERMINAL, H("ABCDEF12"), MC_IAD, "CD29615D6452E70E", "22C8"),
    ],
    ids=["visa_cvn10", "visa_cvn18", "mastercard_cvn16", "mastercard_cvn20"],
)
def test_cryptogram_versions(
    recipe: CvnRecipe, terminal: bytes, un: bytes, iad: bytes, arqc: str, sk_kcv: str
) -> None:
    mk = icc_master_key(IMK, CVN_PAN, "00")
    assert kcv(mk) == "BAB0"
    assert kcv(session_key(mk, recipe.session, ATC, un)) == sk_kcv
    ac = application_cryptogram(
        recipe, mk, terminal=terminal, aip=H("1800"), atc=ATC, un=un, iad=iad
    )
    assert ac.hex().upper() == arqc


def test_card_data_per_recipe() -> None:
    assert card_data(CardData.VISA_CVR, H("06770A03A48000")) == H("03A48000")
    assert card_data(CardData.MCHIP_CVR, MC_IAD) == H("A00003220000")
    assert card_data(CardData.FULL_IAD, MC_IAD) == MC_IAD
    with pytest.raises(MalformedInput):
        card_data(CardData.MCHIP_CVR, H("0601"))
    data = cryptogram_input(
        VISA_CVN10, terminal=b"T", aip=H("1000"), atc=0x42, iad=H("06770A03A48000")
    )
    assert data == b"T" + H("1000") + H("0042") + H("03A48000")


def test_recommended_terminal_data_is_picked_out_of_a_longer_cdol1() -> None:
    cdol1 = parse_dol(H("9F02069F03069F1A0295055F2A029A039C019F37049F4C029F3403"))
    data = MC_TERMINAL + H("1122") + H("010002")
    assert recommended_terminal_data(cdol1, data) == MC_TERMINAL
    with pytest.raises(MalformedInput):
        recommended_terminal_data(cdol1, data[:-1])
    with pytest.raises(MalformedInput):
        recommended_terminal_data(parse_dol(H("9F0206")), bytes(6))


def test_derivation_inputs() -> None:
    assert diversification_value(SessionKeyMethod.EMV_CSK, 0x1C) == H("001C000000000000")
    assert diversification_value(SessionKeyMethod.MASTERCARD_SKD, 0x1C, H("ABCDEF12")) == H(
        "001C0000ABCDEF12"
    )
    assert diversification_value(SessionKeyMethod.UDK_DIRECT, 0x1C) == b""
    mk = icc_master_key(IMK, CVN_PAN, "00")
    assert session_key(mk, SessionKeyMethod.UDK_DIRECT, 7) == mk
    for bad in (
        lambda: icc_master_key(IMK, "12345", "00"),
        lambda: icc_master_key(IMK, CVN_PAN, "0"),
        lambda: icc_master_key(IMK[:8], CVN_PAN, "00"),
        lambda: diversification_value(SessionKeyMethod.EMV_CSK, 0x10000),
        lambda: diversification_value(SessionKeyMethod.MASTERCARD_SKD, 1, b"\x00"),
        lambda: common_session_key(mk, b"short"),
        lambda: get_recipe("visa_cvn99"),
    ):
        with pytest.raises(MalformedInput):
            bad()
    assert set(RECIPES) == {"visa_cvn10", "visa_cvn18", "mastercard_cvn16", "mastercard_cvn20"}


def test_des_helpers() -> None:
    key8 = H("0123456789ABCDEF")
    assert full_key(key8) == key8 * 3
    assert full_key(IMK) == IMK + IMK[:8]
    assert odd_parity(H("0000FEFF")) == H("0101FEFE")
    assert all(bin(b).count("1") % 2 for b in odd_parity(bytes(range(256))))
    # parity bits do not change DES
    assert ecb_encrypt(odd_parity(IMK), DATA16) == ecb_encrypt(IMK, DATA16)
    # the classic single-DES known answer (FIPS 81 / "Now is the time for all ")
    assert cbc_encrypt(key8, b"Now is the time for all ", H("1234567890ABCDEF")).hex().upper() == (
        "E5C7CDDE872BF27C43E934008C389C0F683788499A7C05F6"
    )
    with pytest.raises(MalformedInput):
        full_key(bytes(7))
    with pytest.raises(MalformedInput):
        ecb_encrypt(IMK, b"odd")
    with pytest.raises(MalformedInput):
        key_check_value(IMK, 9)


def test_no_deprecation_warning_whatever_the_key_length() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for key in (bytes(range(8)), bytes(range(16)), bytes(range(24))):
            ecb_encrypt(key, bytes(8))
            cbc_encrypt(key, bytes(16))
        retail_mac(IMK, b"x", Padding.METHOD_2)
