"""audit_keys.py and the key ids of audit.py (ADR 0059): a chain sealed across a rotation of
the audit key verifies with a keyring by id; an event under an older key after a newer one,
an edited key id and a key missing from the keyring are each reported as such; events
sealed before key ids keep their MAC."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta

import pytest

from securebox_auth.audit import (
    GENESIS,
    AuditChainBroken,
    AuditEvent,
    SealedEvent,
    seal,
    verify_chain,
)
from securebox_auth.audit_keys import NO_KEY_ID, AuditKeyMissing, AuditKeyring, audit_keyring
from securebox_auth.crypto.key_purposes import check_service_keys
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import ConfigurationError, KeyReuse
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores.memory import MemoryStore
from tests.support import CLIENT, NOW

K1, K2, K3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
RING1 = AuditKeyring({"m1": K1}, ("m1",))
RING21 = AuditKeyring({"m2": K2, "m1": K1}, ("m2", "m1"))
RING321 = AuditKeyring({"m3": K3, "m2": K2, "m1": K1}, ("m3", "m2", "m1"))
TENANT = str(CLIENT)


def _event(n: int) -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n), "login.code", actor="x", subject="y", outcome="ok"
    )


def _chain(*rings: AuditKeyring | bytes, chain: str = "") -> list[SealedEvent]:
    """Two events under each key source in turn (a rotation between each)."""
    events: list[SealedEvent] = []
    for ring in rings:
        for _ in range(2):
            previous = events[-1] if events else None
            events.append(seal(ring, previous, _event(len(events)), chain=chain))
    return events


# -- the keyring --------------------------------------------------------------------------


def test_a_keyring_is_ordered_newest_first_and_hides_its_keys() -> None:
    assert RING21.current == "m2"
    assert (RING21.rank("m2"), RING21.rank("m1"), RING21.rank(NO_KEY_ID)) == (0, 1, 2)
    assert RING21.rank("m9") is None
    assert RING21.legacy == "m1"  # the oldest by default
    assert RING21.key(NO_KEY_ID) == K1
    assert K1.hex() not in repr(RING21)
    assert "01010101" not in repr(RING21)


@pytest.mark.parametrize(
    ("keys", "order", "legacy"),
    [
        ({}, (), ""),
        ({"m1": K1}, ("m1", "m1"), ""),
        ({"m1": K1, "m2": K2}, ("m1",), ""),
        ({"m1": K1}, ("m2",), ""),
        ({"m 1": K1}, ("m 1",), ""),
        ({"m1": b"short"}, ("m1",), ""),
        ({"m1": K1}, ("m1",), "m2"),
        ({"": K1, "m1": K2}, ("m1", ""), ""),
    ],
)
def test_a_malformed_keyring_is_refused(
    keys: dict[str, bytes], order: tuple[str, ...], legacy: str
) -> None:
    with pytest.raises(ConfigurationError):
        AuditKeyring(keys, order, legacy)


def test_a_keyring_from_hex() -> None:
    ring = AuditKeyring.from_hex(f" m2:{K2.hex()}, m1:{K1.hex()}\n")
    assert (ring.order, ring.keys["m1"], ring.legacy) == (("m2", "m1"), K1, "m1")
    assert AuditKeyring.from_hex(f"m2:{K2.hex()},m1:{K1.hex()}", legacy="m2").legacy == "m2"
    single = AuditKeyring.from_hex(K1.hex())
    assert (single.order, single.key(NO_KEY_ID)) == ((NO_KEY_ID,), K1)
    for bad in ("", "zz", f"m1:{K1.hex()},m1:{K2.hex()}", "m1:xyz", f"m1:{K1.hex()[:10]}"):
        with pytest.raises(ConfigurationError):
            AuditKeyring.from_hex(bad)
    with pytest.raises(ConfigurationError, match="legacy"):
        AuditKeyring.from_hex(K1.hex(), legacy="m1")
    assert AuditKeyring.from_hex(RING21.to_hex()) == RING21
    assert AuditKeyring.from_hex(single.to_hex()) == single
    assert audit_keyring(K1).order == (NO_KEY_ID,)
    with pytest.raises(ConfigurationError):
        audit_keyring("not bytes")  # type: ignore[arg-type]


# -- sealing and verifying across a rotation ------------------------------------------------


@pytest.mark.parametrize("chain", ["", TENANT])
def test_a_chain_verifies_across_rotations(chain: str) -> None:
    events = _chain(RING1, RING21, RING321, chain=chain)
    assert [e.key_id for e in events] == ["m1", "m1", "m2", "m2", "m3", "m3"]
    assert verify_chain(RING321, events, expected_head=events[-1].mac) == 6
    # with the old code's single key, the events of before the rotation no longer verify
    with pytest.raises(AuditKeyMissing):
        verify_chain(K3, events)


def test_an_event_under_an_older_key_after_a_newer_one_is_refused() -> None:
    events = _chain(RING1, RING21)
    # whoever holds only the retired key m1 appends after the m2 events: each MAC is right
    forged = seal(RING1, events[-1], _event(9))
    assert forged.key_id == "m1"
    with pytest.raises(AuditChainBroken, match="older than key 'm2'") as caught:
        verify_chain(RING21, [*events, forged])
    assert caught.value.sequence == 5


def test_the_key_id_cannot_be_swapped_added_or_removed() -> None:
    events = _chain(K1, RING1, RING21)
    assert [e.key_id for e in events] == ["", "", "m1", "m1", "m2", "m2"]
    ring = AuditKeyring({"m2": K2, "m1": K1}, ("m2", "m1"))
    assert verify_chain(ring, events) == 6
    for index, key_id in [(4, "m1"), (2, ""), (0, "m1"), (5, "m3")]:
        edited = list(events)
        edited[index] = replace(events[index], key_id=key_id)
        big = AuditKeyring({"m3": K2, "m2": K2, "m1": K1}, ("m3", "m2", "m1"))
        with pytest.raises(AuditChainBroken, match="does not match its MAC"):
            verify_chain(big, edited)


def test_an_event_without_a_key_id_after_keyed_ones_is_refused() -> None:
    events = _chain(RING1)
    # a legacy-form MAC under the legacy key, linked after an m1 event
    pretend = replace(events[-1], key_id=NO_KEY_ID)
    legacy = replace(seal(K1, pretend, _event(5)), previous=events[-1].mac)
    with pytest.raises(AuditChainBroken, match="older than key 'm1'"):
        verify_chain(RING1, [*events, legacy])
    # and one unnamed key refuses to seal after an event under a key id
    with pytest.raises(ConfigurationError, match="keyring"):
        seal(K1, events[-1], _event(5))


def test_a_key_removed_from_the_keyring_is_reported_missing_not_broken() -> None:
    events = _chain(RING1, RING21, chain=TENANT)
    ring = AuditKeyring({"m2": K2}, ("m2",))  # m1 retired and removed
    with pytest.raises(AuditKeyMissing) as caught:
        verify_chain(ring, events)
    assert not isinstance(caught.value, AuditChainBroken)
    assert (caught.value.key_id, caught.value.sequence, caught.value.chain) == ("m1", 1, TENANT)
    assert "'m1'" in str(caught.value)
    assert "does not hold" in str(caught.value)
    assert caught.value.code == "audit_key_missing"


def test_events_of_before_keep_their_mac_and_verify_under_the_legacy_key() -> None:
    event = _event(0)
    sealed = seal(K1, None, event)
    # the MAC of before ADR 0059, written out: no key id in it
    body = f"1\x00{GENESIS}\x00".encode() + event.canonical()
    assert sealed.mac == hmac.new(K1, body, hashlib.sha256).hexdigest()
    assert sealed.key_id == NO_KEY_ID
    tenant = seal(K1, None, event, chain=TENANT)
    body = f"chain\x00{TENANT}\x001\x00{GENESIS}\x00".encode() + event.canonical()
    assert tenant.mac == hmac.new(K1, body, hashlib.sha256).hexdigest()
    # a keyed MAC differs: the id and the chain are covered under a prefix of their own
    keyed = seal(RING1, None, event)
    body = f"key\x00m1\x00chain\x00\x001\x00{GENESIS}\x00".encode() + event.canonical()
    assert keyed.mac == hmac.new(K1, body, hashlib.sha256).hexdigest()
    # the legacy events then the keyed ones, across two rotations; legacy named explicitly
    events = _chain(K1, RING1, RING21)
    assert verify_chain(RING21, events) == 6
    named = AuditKeyring({"m2": K2, "m1": K1, "m0": K3}, ("m2", "m1", "m0"), legacy="m1")
    assert verify_chain(named, events) == 6
    wrong = AuditKeyring({"m2": K2, "m1": K1, "m0": K3}, ("m2", "m1", "m0"))  # legacy m0
    with pytest.raises(AuditChainBroken, match="does not match its MAC") as caught:
        verify_chain(wrong, events)
    assert caught.value.sequence == 1


# -- where the keyrings come from -----------------------------------------------------------


def test_derived_keys_give_the_audit_key_of_every_master_id() -> None:
    old = DerivedKeys(StaticKeyring({"m1": K1}, "m1"))
    rotated = DerivedKeys.from_hex(f"m2:{K2.hex()},m1:{K1.hex()}")
    ring = rotated.audit_keyring()
    assert (ring.order, ring.legacy) == (("m2", "m1"), "m1")
    # the same ids, the same keys: what m1 sealed before the rotation verifies after it
    assert ring.keys["m1"] == old.audit_key() == old.audit_keyring().keys["m1"]
    assert ring.keys["m2"] == rotated.audit_key() != old.audit_key()
    assert len(set(ring.keys.values()) | {K1, K2}) == 4  # derived, not the master keys
    assert rotated.audit_keyring("m2").legacy == "m2"
    with pytest.raises(ConfigurationError):
        rotated.audit_keyring("m7")
    # the master keyring's order need not put the current first
    ring = DerivedKeys(StaticKeyring({"m1": K1, "m2": K2}, "m2")).audit_keyring()
    assert ring.order == ("m2", "m1")


def test_stores_take_one_key_or_a_keyring() -> None:
    store = MemoryStore(audit_keys=RING21)
    assert (store.audit_keys, store.audit_key) == (RING21, K2)
    assert MemoryStore(audit_key=K1).audit_keys.order == (NO_KEY_ID,)
    with pytest.raises(ConfigurationError, match="not both"):
        MemoryStore(audit_key=K1, audit_keys=RING21)
    with pytest.raises(ConfigurationError):
        MemoryStore(audit_keys=K1)  # type: ignore[arg-type]


def test_every_audit_key_id_is_compared_with_the_other_purposes() -> None:
    store = MemoryStore(audit_keys=RING21)
    check_service_keys(store, None, {"pepper": StaticKeyring({"p": K3}, "p")})
    with pytest.raises(KeyReuse):  # an old audit key reused as the pepper
        check_service_keys(store, None, {"pepper": StaticKeyring({"p": K1}, "p")})
