"""emv/issuer.py: the software issuer key provider and its encrypted file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from securebox_auth.emv.cryptogram import VISA_CVN10, application_cryptogram, cryptogram_input
from securebox_auth.emv.derivation import SessionKeyMethod, icc_master_key
from securebox_auth.emv.issuer import CryptogramRequest, IssuerKeyProvider, SoftwareIssuerKeys
from securebox_auth.emv.mac import Padding
from securebox_auth.errors import ConfigurationError, MalformedInput

H = bytes.fromhex
IMK = H("0123456789ABCDEFFEDCBA9876543210")
PAN = "1234567890123456"
FAST_SCRYPT = 2**10


def provider() -> SoftwareIssuerKeys:
    return SoftwareIssuerKeys({"imk1": IMK}, "imk1", bytes(range(32)))


def test_it_is_an_issuer_key_provider() -> None:
    keys: IssuerKeyProvider = provider()
    assert keys.enrol_card(PAN, "00").startswith("v1.imk1.")


def test_cryptogram_under_the_enrolled_card_key_matches_the_card() -> None:
    keys = provider()
    ref = keys.enrol_card(PAN, "00")
    assert keys.personalisation_key(PAN, "00") == icc_master_key(IMK, PAN, "00")
    terminal, iad = bytes(29), H("06010A03A48000")
    for atc in (1, 2, 0x1C):
        data = cryptogram_input(VISA_CVN10, terminal=terminal, aip=H("1000"), atc=atc, iad=iad)
        ac = keys.cryptogram(
            ref,
            CryptogramRequest(SessionKeyMethod.UDK_DIRECT, Padding.METHOD_1, atc, bytes(4), data),
        )
        expected = application_cryptogram(
            VISA_CVN10,
            icc_master_key(IMK, PAN, "00"),
            terminal=terminal,
            aip=H("1000"),
            atc=atc,
            un=bytes(4),
            iad=iad,
        )
        assert ac == expected


def test_key_references_are_opaque_and_tamper_evident() -> None:
    keys = provider()
    ref = keys.enrol_card(PAN, "00")
    assert ref != keys.enrol_card(PAN, "00")  # a fresh nonce each time
    assert PAN not in ref
    assert IMK.hex() not in ref.lower()
    request = CryptogramRequest(SessionKeyMethod.EMV_CSK, Padding.METHOD_2, 1, bytes(4), b"x")
    broken = ref[:-2] + ("A" if ref[-2] != "A" else "B") + ref[-1]
    for bad in (broken, "v1.imk1.!!!", "v2." + ref[3:], "v1.imk9." + ref.split(".")[2], "nope"):
        with pytest.raises(KeyError):
            keys.cryptogram(bad, request)
    other = SoftwareIssuerKeys({"imk1": IMK}, "imk1", bytes(32))
    with pytest.raises(KeyError):
        other.cryptogram(ref, request)  # another wrapping key


def test_encrypted_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "issuer.json"
    keys = SoftwareIssuerKeys.generate()
    keys.save(path, "correct horse", scrypt_n=FAST_SCRYPT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    body = json.loads(path.read_text())
    assert set(body) == {"format", "kdf", "nonce", "ciphertext"}
    loaded = SoftwareIssuerKeys.load(path, "correct horse")
    ref = keys.enrol_card(PAN, "01")
    request = CryptogramRequest(SessionKeyMethod.EMV_CSK, Padding.METHOD_2, 5, bytes(4), b"data")
    assert loaded.cryptogram(ref, request) == keys.cryptogram(ref, request)
    with pytest.raises(ConfigurationError, match="wrong passphrase"):
        SoftwareIssuerKeys.load(path, "wrong")
    path.write_text("{}")
    with pytest.raises(ConfigurationError):
        SoftwareIssuerKeys.load(path, "correct horse")
    with pytest.raises(ConfigurationError):
        SoftwareIssuerKeys.load(tmp_path / "missing.json", "x")
    with pytest.raises(MalformedInput):
        keys.save(path, "")
    with pytest.raises(ConfigurationError):
        keys.save(path, "x", scrypt_n=1000)


def test_keys_never_show() -> None:
    keys = provider()
    assert repr(keys) == "SoftwareIssuerKeys(imks=['imk1'], current='imk1')"
    assert IMK.hex() not in repr(keys).lower()


def test_configuration_is_checked() -> None:
    for imks, current, wrap in (
        ({}, "imk1", bytes(32)),
        ({"imk1": IMK}, "imk2", bytes(32)),
        ({"imk1": IMK[:8]}, "imk1", bytes(32)),
        ({"imk 1": IMK}, "imk 1", bytes(32)),
        ({"imk1": IMK}, "imk1", bytes(16)),
    ):
        with pytest.raises(ConfigurationError):
            SoftwareIssuerKeys(imks, current, wrap)
