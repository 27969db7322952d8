"""crypto/hashing.py: pepper (HMAC from a key provider), then argon2id."""

from __future__ import annotations

import secrets

import pytest

from securebox_auth.crypto.hashing import (
    PROFILE_2026,
    PROFILE_TESTING,
    Argon2CodeHasher,
    Argon2Parameters,
)
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from tests.support import CountingPasswordHasher, counting_hasher

ALICE = Principal.parse("123456789", "01")
BOB = Principal.parse("123456789", "02")
CODE = "47120938"


def _two_key_ring(current: str, old_key: bytes, new_key: bytes) -> StaticKeyring:
    return StaticKeyring({"old": old_key, "new": new_key}, current)


def test_verify_right_and_wrong(hasher: Argon2CodeHasher) -> None:
    stored = hasher.hash(ALICE, CODE)
    assert hasher.verify(stored, ALICE, CODE)
    assert not hasher.verify(stored, ALICE, "47120939")
    assert not hasher.verify(stored, ALICE, CODE[:-1])


def test_stored_form_names_the_pepper_key_and_uses_argon2id(hasher: Argon2CodeHasher) -> None:
    stored = hasher.hash(ALICE, CODE)
    assert stored.startswith("sbx1$k1$$argon2id$v=19$m=8,t=1,p=1$")
    assert CODE not in stored


def test_hashes_are_salted(hasher: Argon2CodeHasher) -> None:
    first, second = hasher.hash(ALICE, CODE), hasher.hash(ALICE, CODE)
    assert first != second
    assert hasher.verify(first, ALICE, CODE)
    assert hasher.verify(second, ALICE, CODE)


def test_hash_is_bound_to_the_principal(hasher: Argon2CodeHasher) -> None:
    stored = hasher.hash(ALICE, CODE)
    assert not hasher.verify(stored, BOB, CODE)
    # the key is CLIENT:USER, so a different split of the same digits is another principal
    other = Principal.parse("1234567890", "1")
    assert not hasher.verify(hasher.hash(Principal.parse("123456789", "01"), CODE), other, CODE)


def test_the_pepper_is_needed_to_verify() -> None:
    hasher = Argon2CodeHasher(StaticKeyring.generate("k1"), PROFILE_TESTING)
    stolen = hasher.hash(ALICE, CODE)
    # same key id, different key material: the database alone is not enough
    attacker = Argon2CodeHasher(StaticKeyring.generate("k1"), PROFILE_TESTING)
    assert not attacker.verify(stolen, ALICE, CODE)


def test_pepper_rotation() -> None:
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    before = Argon2CodeHasher(_two_key_ring("old", old_key, new_key), PROFILE_TESTING)
    stored = before.hash(ALICE, CODE)
    assert stored.startswith("sbx1$old$")
    assert not before.needs_rehash(stored)

    after = Argon2CodeHasher(_two_key_ring("new", old_key, new_key), PROFILE_TESTING)
    assert after.verify(stored, ALICE, CODE)
    assert not after.verify(stored, ALICE, "47120939")
    assert after.needs_rehash(stored)

    rehashed = after.hash(ALICE, CODE)
    assert rehashed.startswith("sbx1$new$")
    assert not after.needs_rehash(rehashed)
    assert after.verify(rehashed, ALICE, CODE)


def test_missing_pepper_key_is_a_configuration_error() -> None:
    old = Argon2CodeHasher(StaticKeyring.generate("old"), PROFILE_TESTING)
    stored = old.hash(ALICE, CODE)
    retired = Argon2CodeHasher(StaticKeyring.generate("new"), PROFILE_TESTING)
    with pytest.raises(ConfigurationError, match="pepper key"):
        retired.verify(stored, ALICE, CODE)


def test_argon2_parameter_change_needs_rehash(keyring: StaticKeyring) -> None:
    cheap = Argon2CodeHasher(keyring, PROFILE_TESTING)
    stronger = Argon2CodeHasher(keyring, Argon2Parameters(time_cost=2, memory_cost_kib=16))
    stored = cheap.hash(ALICE, CODE)
    assert not cheap.needs_rehash(stored)
    assert stronger.needs_rehash(stored)
    assert stronger.verify(stored, ALICE, CODE)
    new = stronger.hash(ALICE, CODE)
    assert "$m=16,t=2,p=1$" in new
    assert not stronger.needs_rehash(new)
    assert cheap.needs_rehash(new)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "sbx1",
        "sbx1$k1",
        "sbx1$$$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        "sbx2$k1$$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        "sbx1$k1$$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        "sbx1$k1$$argon2id$garbage",
        "sbx1$k1$$argon2id$v=19$m=8,t=1,p=1$!!!!$!!!!",
        "sbx1$k1$$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
    ],
)
def test_corrupt_stored_hash_is_a_configuration_error(
    hasher: Argon2CodeHasher, stored: str
) -> None:
    with pytest.raises(ConfigurationError):
        hasher.verify(stored, ALICE, CODE)


@pytest.mark.parametrize(
    "stored",
    [
        "garbage",
        "sbx1$k1$$argon2id$garbage",
        "sbx1$k1$$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
    ],
)
def test_needs_rehash_on_corrupt_hash_is_a_configuration_error(
    hasher: Argon2CodeHasher, stored: str
) -> None:
    with pytest.raises(ConfigurationError):
        hasher.needs_rehash(stored)


def test_verify_dummy_is_always_false_and_costs_one_verification(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    for code in (CODE, "0", "58302917"):
        assert hasher.verify_dummy(ALICE, code) is False
    assert counter.verifications == 3


def test_verify_costs_exactly_one_argon2_verification(keyring: StaticKeyring) -> None:
    hasher, counter = counting_hasher(keyring)
    stored = hasher.hash(ALICE, CODE)
    hasher.verify(stored, ALICE, CODE)
    hasher.verify(stored, ALICE, "11")
    assert counter.verifications == 2


def test_injected_password_hasher_is_used(keyring: StaticKeyring) -> None:
    counter = CountingPasswordHasher(Argon2Parameters(time_cost=2, memory_cost_kib=16))
    hasher = Argon2CodeHasher(keyring, PROFILE_TESTING, password_hasher=counter)
    assert "$m=16,t=2,p=1$" in hasher.hash(ALICE, CODE)


def test_default_profile_is_the_measured_one(keyring: StaticKeyring) -> None:
    # OWASP's minimum for argon2id is t=2 with 19 MiB; the default must not be weaker.
    assert PROFILE_2026.time_cost >= 2
    assert PROFILE_2026.memory_cost_kib >= 19 * 1024
    hasher = Argon2CodeHasher(keyring)
    assert hasher.parameters is PROFILE_2026
    stored = hasher.hash(ALICE, CODE)
    assert f"$m={PROFILE_2026.memory_cost_kib},t={PROFILE_2026.time_cost},p=1$" in stored
    assert hasher.verify(stored, ALICE, CODE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0, "memory_cost_kib": 8},
        {"time_cost": 65, "memory_cost_kib": 8},
        {"time_cost": 1, "memory_cost_kib": 7},
        {"time_cost": 1, "memory_cost_kib": 15, "parallelism": 2},
        {"time_cost": 1, "memory_cost_kib": 4 * 1024 * 1024 + 1},
        {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 0},
        {"time_cost": 1, "memory_cost_kib": 8, "hash_len": 15},
        {"time_cost": 1, "memory_cost_kib": 8, "salt_len": 65},
    ],
)
def test_invalid_argon2_parameters(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        Argon2Parameters(**kwargs)
