"""crypto/keys.py: the in-memory keyring and its HMAC."""

from __future__ import annotations

import pytest

from securebox_auth.crypto.keys import StaticKeyring, valid_key_id
from securebox_auth.errors import ConfigurationError

# RFC 4231 test case 6: a 131-byte key (longer than the block size), SHA-256.
RFC4231_KEY = b"\xaa" * 131
RFC4231_MESSAGE = b"Test Using Larger Than Block-Size Key - Hash Key First"
RFC4231_MAC = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_mac_is_hmac_sha256() -> None:
    ring = StaticKeyring({"rfc": RFC4231_KEY}, "rfc")
    assert ring.mac("rfc", RFC4231_MESSAGE).hex() == RFC4231_MAC


def test_unknown_key_raises_key_error() -> None:
    ring = StaticKeyring.generate("k1")
    with pytest.raises(KeyError):
        ring.mac("k2", b"message")


def test_generate_makes_distinct_random_keys() -> None:
    a = StaticKeyring.generate()
    b = StaticKeyring.generate()
    assert a.current_key_id == "k1"
    assert a.mac("k1", b"m") != b.mac("k1", b"m")
    assert len(a.keys["k1"]) >= 32


def test_repr_never_shows_key_material() -> None:
    key = bytes(range(32))
    ring = StaticKeyring({"k1": key, "k2": b"\x01" * 32}, "k2")
    text = repr(ring)
    assert text == "StaticKeyring(ids=['k1', 'k2'], current='k2')"
    assert key.hex() not in text
    assert repr(key) not in text


def test_keys_are_copied_and_read_only() -> None:
    source = {"k1": b"\x01" * 32}
    ring = StaticKeyring(source, "k1")
    source["k1"] = b"\x02" * 32
    assert ring.keys["k1"] == b"\x01" * 32
    with pytest.raises(TypeError):
        ring.keys["k1"] = b"\x03" * 32  # type: ignore[index]


def test_from_hex_first_key_is_current() -> None:
    spec = f"new:{'11' * 32}, old:{'22' * 32}"
    ring = StaticKeyring.from_hex(spec)
    assert ring.current_key_id == "new"
    assert ring.keys["old"] == b"\x22" * 32
    assert ring.keys["new"] == b"\x11" * 32


@pytest.mark.parametrize(
    ("keys", "current"),
    [
        ({}, "k1"),
        ({"k1": b"\x01" * 31}, "k1"),  # too short
        ({"k1": "x" * 32}, "k1"),  # not bytes
        ({"bad id": b"\x01" * 32}, "bad id"),
        ({"k" * 33: b"\x01" * 32}, "k" * 33),
        ({"k1": b"\x01" * 32}, "k2"),  # current not in the ring
    ],
)
def test_invalid_keyrings_are_configuration_errors(keys: dict[str, bytes], current: str) -> None:
    with pytest.raises(ConfigurationError):
        StaticKeyring(keys, current)


@pytest.mark.parametrize(
    "spec", ["", "k1", f"k1={'11' * 32}", "k1:zz", f"k1:{'11' * 16}", f"k 1:{'11' * 32}"]
)
def test_from_hex_refuses_bad_specs(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        StaticKeyring.from_hex(spec)


@pytest.mark.parametrize(
    ("key_id", "valid"),
    [("k1", True), ("pepper_2026-01", True), ("K" * 32, True), ("", False), ("a.b", False)],
)
def test_valid_key_id(key_id: str, valid: bool) -> None:
    assert valid_key_id(key_id) is valid
