"""FactorService and TOTP seeds at rest: stored wrapped, legacy clear rows re-wrapped at the
next attempt, rotated keys re-wrapped, a seed copied to another user refused (typed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.errors import ConfigurationError, SealedSecretInvalid
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.identity import Principal
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import PutAccount, PutFactorState
from tests.support import NOW

P = Principal.parse("123456789", "01")
OTHER = Principal.parse("123456789", "02")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CREDENTIAL = TotpCredential(SECRET, NOW - timedelta(days=1), confirmed_at=NOW - timedelta(days=1))
LEGACY = {
    "v": 1, "secret": SECRET, "created_at": CREDENTIAL.created_at.isoformat(),
    "algorithm": "SHA1", "digits": 6, "period": 30,
    "confirmed_at": CREDENTIAL.created_at.isoformat(), "last_step": None,
}  # fmt: skip


def _store() -> MemoryStore:
    store = MemoryStore()
    store.commit([PutAccount(p, 0, Account(p, Role.USER, NOW)) for p in (P, OTHER)], [])
    return store


def _seeded(credential: TotpCredential = CREDENTIAL) -> tuple[MemoryStore, FactorService]:
    """A store with ``credential`` stored, and its service under key ``w1`` at ``NOW``."""
    store = _store()
    service = FactorService(store, clock=FixedClock(NOW), wrapping=StaticKeyring.generate("w1"))
    service.store_totp(P, credential)
    return store, service


def _stored(store: MemoryStore, principal: Principal = P) -> dict[str, object]:
    found = store.get_factor_state(principal, fc.TOTP, DEFAULT_ITEM)
    assert found is not None
    return dict(found.value)


def test_a_stored_seed_is_wrapped() -> None:
    store, service = _seeded()
    document = _stored(store)
    assert "secret" not in document
    assert SECRET not in repr(document)
    assert document["seed"]["kid"] == "w1"  # type: ignore[index]
    assert service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok


def test_a_success_keeps_the_sealed_seed_and_moves_the_last_step() -> None:
    # A verification never changes the seed: its sealed form is kept as stored (no new
    # nonce, no new wrap); only the step accepted moves, and a failure writes nothing.
    store, service = _seeded()
    wrapping = service.totp.wrapping
    before = _stored(store)
    assert not service.verify_totp(P, "000000").ok
    assert _stored(store) == before
    assert service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok
    after = _stored(store)
    assert after["seed"] == before["seed"]
    assert after["last_step"] == int(NOW.timestamp()) // 30
    assert {k: v for k, v in after.items() if k != "last_step"} == {
        k: v for k, v in before.items() if k != "last_step"
    }
    read = fc.totp_from_dict(after, keys=wrapping, principal=P, item=DEFAULT_ITEM)
    assert read == TotpCredential(
        SECRET, CREDENTIAL.created_at, confirmed_at=CREDENTIAL.confirmed_at,
        last_step=after["last_step"],
    )  # fmt: skip
    # The step it used cannot log in again; the next step's code can.
    assert not service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok
    later = FactorService(store, clock=FixedClock(NOW + timedelta(seconds=30)), wrapping=wrapping)
    assert later.verify_totp(P, code_at(CREDENTIAL, NOW + timedelta(seconds=30))).ok


def test_a_confirmation_keeps_the_sealed_seed_and_records_the_time() -> None:
    pending = TotpCredential(SECRET, NOW - timedelta(minutes=5))
    store, service = _seeded(pending)
    before = _stored(store)
    assert service.confirm_totp(P, code_at(pending, NOW)).ok
    after = _stored(store)
    assert after["seed"] == before["seed"]
    assert after["confirmed_at"] == NOW.isoformat()


def test_a_clear_totp_document_is_refused_by_put_state() -> None:
    service = FactorService(_store(), wrapping=StaticKeyring.generate("w1"))
    with pytest.raises(ConfigurationError):
        service.put_state(P, fc.TOTP, DEFAULT_ITEM, LEGACY)


def test_totp_needs_wrapping_keys() -> None:
    service = FactorService(_store(), clock=FixedClock(NOW))
    with pytest.raises(ConfigurationError):
        service.verify_totp(P, "123456")
    with pytest.raises(ConfigurationError):
        service.store_totp(P, CREDENTIAL)


def test_a_legacy_clear_seed_still_works_and_is_rewrapped_at_the_next_attempt() -> None:
    store = _store()
    store.commit([PutFactorState(P, fc.TOTP, DEFAULT_ITEM, 0, LEGACY)], [])
    service = FactorService(store, clock=FixedClock(NOW), wrapping=StaticKeyring.generate("w1"))
    wrong = service.verify_totp(P, "000000")  # even a failed attempt re-wraps
    assert not wrong.ok
    assert store.get_lockout(P).value.failures == 1
    document = _stored(store)
    assert document["v"] == 2
    assert SECRET not in repr(document)
    assert service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok


def test_a_rotated_key_is_replaced_at_the_next_attempt() -> None:
    store = _store()
    old = StaticKeyring.generate("w1")
    FactorService(store, wrapping=old).store_totp(P, CREDENTIAL)
    rotated = StaticKeyring({"w2": StaticKeyring.generate().keys["k1"], "w1": old.keys["w1"]}, "w2")
    service = FactorService(store, clock=FixedClock(NOW), wrapping=rotated)
    assert service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok
    assert _stored(store)["seed"]["kid"] == "w2"  # type: ignore[index]
    # Once every row is re-wrapped the old key can go.
    later = FactorService(
        store, clock=FixedClock(NOW + timedelta(seconds=30)),
        wrapping=StaticKeyring({"w2": rotated.keys["w2"]}, "w2"),
    )  # fmt: skip
    assert later.verify_totp(P, code_at(CREDENTIAL, NOW + timedelta(seconds=30))).ok


def test_a_seed_copied_to_another_user_does_not_open() -> None:
    store = _store()
    wrapping = StaticKeyring.generate("w1")
    service = FactorService(store, clock=FixedClock(NOW), wrapping=wrapping)
    service.store_totp(P, CREDENTIAL)
    store.commit([PutFactorState(OTHER, fc.TOTP, DEFAULT_ITEM, 0, _stored(store))], [])
    with pytest.raises(SealedSecretInvalid):
        service.verify_totp(OTHER, code_at(CREDENTIAL, NOW))


def test_rewrap_migrates_a_dormant_credential() -> None:
    store = _store()
    store.commit([PutFactorState(P, fc.TOTP, DEFAULT_ITEM, 0, LEGACY)], [])
    service = FactorService(store, clock=FixedClock(NOW), wrapping=StaticKeyring.generate("w1"))
    assert service.rewrap_totp(P)
    assert not service.rewrap_totp(P)  # already current
    assert not service.rewrap_totp(OTHER)  # nothing stored
    document = _stored(store)
    assert document["v"] == 2
    assert SECRET not in repr(document)
    assert store.get_lockout(P).value.failures == 0
    assert service.verify_totp(P, code_at(CREDENTIAL, NOW)).ok
