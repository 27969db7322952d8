"""The software PIV card, APDU by APDU (no PC/SC): what OpenSC relies on."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from securebox_auth.cards.piv import PIV_AID, PIV_ATR, PivCard
from securebox_auth.errors import ConfigurationError
from securebox_auth.testing.pki import TestPki
from tests.support import NOW

PIN = b"246810"
SELECT_SHORT = bytes.fromhex("00A4040009A00000030800001000")
GET_CERT = bytes.fromhex("00CB3FFF055C035FC105")


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki(NOW)


@pytest.fixture
def card(pki: TestPki) -> PivCard:
    issued = pki.issue("piv")
    assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    return PivCard(issued.key, issued.cert, pin=PIN.decode(), puk="13572468")


def _verify_apdu(pin: bytes) -> bytes:
    return bytes.fromhex("0020008008") + pin.ljust(8, b"\xff")


def _sign_apdu(digest: bytes, cla: int = 0x00) -> bytes:
    template = bytes.fromhex("7C2482008120") + digest
    return bytes([cla]) + bytes.fromhex("87119A") + bytes([len(template)]) + template + b"\x00"


def test_atr_offers_t0_and_t1_and_is_not_a_known_card() -> None:
    assert PIV_ATR[0] == 0x3B
    assert PIV_ATR[1:4] != bytes.fromhex("808001")  # OpenSC would call it contactless


def test_select_by_truncated_aid_and_unknown_aid(card: PivCard) -> None:
    answer = card.process(SELECT_SHORT + b"\x00")
    assert answer.endswith(b"\x90\x00")
    assert answer[0] == 0x61
    assert bytes.fromhex("4F05A000000308") in answer
    assert card.process(bytes.fromhex("00A4040007A0000000031010")) == bytes.fromhex("6A82")
    assert card.process(bytes.fromhex("00A4040003A00000")) == bytes.fromhex("6A82")  # too short
    assert card.process(bytes.fromhex("00A40400") + bytes([len(PIV_AID)]) + PIV_AID)[-2:] == (
        b"\x90\x00"
    )
    assert card.process(b"\x00\xee\x00\x00") == bytes.fromhex("6D00")
    assert card.process(b"\x00") == bytes.fromhex("6700")


def test_certificate_by_length_probe_and_get_response_chaining(card: PivCard, pki: TestPki) -> None:
    probe = card.process(GET_CERT + b"\x08")
    assert probe[:2] == b"\x53\x82"
    assert probe[-2] == 0x61
    card.process(SELECT_SHORT)
    data = b""
    answer = card.process(GET_CERT + b"\x00")
    while True:
        data += answer[:-2]
        if answer[-2] != 0x61:
            assert answer[-2:] == b"\x90\x00"
            break
        answer = card.process(bytes([0x00, 0xC0, 0x00, 0x00, answer[-1]]))
    assert data[0] == 0x53
    der = card._cert.public_bytes(Encoding.DER)
    assert der in data
    assert data.endswith(b"\x71\x01\x00\xfe\x00")
    # an object the card does not hold, and GET RESPONSE with nothing pending
    assert card.process(bytes.fromhex("00CB3FFF055C035FC10700")) == bytes.fromhex("6A82")
    assert card.process(bytes.fromhex("00C0000000")) == bytes.fromhex("6985")


def test_verify_counts_down_blocks_and_keeps_state_across_select(card: PivCard) -> None:
    status = bytes.fromhex("00200080")
    assert card.process(status) == bytes.fromhex("63C3")
    assert card.process(_verify_apdu(b"000000")) == bytes.fromhex("63C2")
    assert card.process(_verify_apdu(PIN)) == bytes.fromhex("9000")
    assert card.tries_left == 3
    card.process(SELECT_SHORT)  # a re-SELECT keeps the PIN state
    assert card.process(status) == bytes.fromhex("9000")
    card.reset()  # a reset does not
    assert card.process(status) == bytes.fromhex("63C3")
    # SP 800-73-4: the wrong PIN that uses the last try answers 63C0, not 6983
    for expected in ("63C2", "63C1", "63C0"):
        assert card.process(_verify_apdu(b"999999")) == bytes.fromhex(expected)
    assert card.blocked
    assert card.process(_verify_apdu(PIN)) == bytes.fromhex("6983")
    assert card.process(status) == bytes.fromhex("6983")
    # the PUK sets a new PIN and the counter back
    wrong_puk = bytes.fromhex("002C008010") + b"00000000" + b"654321\xff\xff"
    assert card.process(wrong_puk) == bytes.fromhex("63C2")
    reset = bytes.fromhex("002C008010") + b"13572468" + b"654321\xff\xff"
    assert card.process(reset) == bytes.fromhex("9000")
    assert card.process(_verify_apdu(b"654321")) == bytes.fromhex("9000")
    assert card.process(bytes.fromhex("0020FF80")) == bytes.fromhex("9000")  # log out
    assert card.process(status) == bytes.fromhex("63C3")


def test_general_authenticate_needs_the_pin_and_signs(card: PivCard) -> None:
    digest = hashlib.sha256(b"challenge").digest()
    assert card.process(_sign_apdu(digest)) == bytes.fromhex("6982")
    card.process(_verify_apdu(PIN))
    answer = card.process(_sign_apdu(digest))
    assert answer[-2:] == b"\x90\x00"
    assert answer[0] == 0x7C
    assert answer[2] == 0x82
    signature = answer[4:-2]
    public = card._cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    # command chaining (CLA 10) gives the same operation
    whole = _sign_apdu(digest)
    body = whole[5:-1]
    first = bytes([0x10]) + whole[1:4] + bytes([10]) + body[:10]
    assert card.process(first) == bytes.fromhex("9000")
    last = bytes([0x00]) + whole[1:4] + bytes([len(body) - 10]) + body[10:] + b"\x00"
    chained = card.process(last)
    assert chained[-2:] == b"\x90\x00"
    public.verify(chained[4:-2], digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert card.process(bytes.fromhex("00870799") + whole[4:]) == bytes.fromhex("6A86")


def test_only_p256_keys(pki: TestPki) -> None:
    issued = pki.issue("rsa", key=rsa.generate_private_key(65537, 2048))
    with pytest.raises(ConfigurationError):
        PivCard(issued.key, issued.cert)  # type: ignore[arg-type]
    p256 = pki.issue("p256")
    assert isinstance(p256.key, ec.EllipticCurvePrivateKey)
    with pytest.raises(ConfigurationError):
        PivCard(p256.key, p256.cert, pin="12")


def test_wrong_puk_counts_down_to_63c0_then_6983(card: PivCard) -> None:
    wrong_puk = bytes.fromhex("002C008010") + b"00000000" + b"654321\xff\xff"
    answers = [card.process(wrong_puk).hex().upper() for _ in range(4)]
    assert answers == ["63C2", "63C1", "63C0", "6983"]
