"""Replacing a confirmed TOTP application: the new seed waits beside the confirmed one,
which goes on working until the new seed's first code confirms it; then only the new one
works. A wrong first code counts and changes nothing else; a newer replacement takes the
place of a waiting one; the waiting seed is wrapped, and re-wrapped with the credential
when the wrapping key rotates."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from tests.factors.test_totp_at_rest import CREDENTIAL, P, _seeded, _stored
from tests.support import NOW

STEP = timedelta(seconds=30)


def _replacing(service: FactorService) -> TotpCredential:
    """A replacement begun: its credential (as the application received it)."""
    return service.totp.begin_enrolment(P, issuer="Bank", replace=True).credential


def _world() -> tuple[MemoryStore, FactorService, FixedClock]:
    store, seeded = _seeded()
    clock = FixedClock(NOW)
    service = FactorService(store, clock=clock, wrapping=seeded.totp.wrapping)
    return store, service, clock


def test_the_confirmed_seed_works_until_the_replacement_is_confirmed() -> None:
    store, service, clock = _world()
    new = _replacing(service)
    assert service.verify_totp(P, code_at(CREDENTIAL, clock.now())).ok  # the old one
    clock.advance(STEP)
    assert not service.verify_totp(P, code_at(new, clock.now())).ok  # not yet the new one
    clock.advance(STEP)
    assert fc.pending_of(_stored(store)) is not None  # a login kept the replacement
    assert service.confirm_totp(P, code_at(new, clock.now())).ok
    assert fc.pending_of(_stored(store)) is None
    clock.advance(STEP)
    assert not service.verify_totp(P, code_at(CREDENTIAL, clock.now())).ok  # replaced
    assert service.verify_totp(P, code_at(new, clock.now())).ok
    # its confirmation step is spent: the same code does not log in again
    assert not service.verify_totp(P, code_at(new, clock.now())).ok


def test_a_wrong_first_code_counts_and_changes_nothing_else() -> None:
    store, service, clock = _world()
    new = _replacing(service)
    before = _stored(store)
    wrong = "000000" if code_at(new, clock.now()) != "000000" else "111111"
    assert not service.confirm_totp(P, wrong).ok
    assert store.get_lockout(P).value.failures == 1
    assert _stored(store) == before
    assert service.confirm_totp(P, code_at(new, clock.now())).ok


def test_a_newer_replacement_takes_the_place_of_a_waiting_one() -> None:
    _, service, clock = _world()
    first = _replacing(service)
    second = _replacing(service)
    assert not service.confirm_totp(P, code_at(first, clock.now())).ok
    assert service.confirm_totp(P, code_at(second, clock.now())).ok


def test_the_waiting_seed_is_wrapped_and_follows_a_key_rotation() -> None:
    store, service, clock = _world()
    new = _replacing(service)
    pending = fc.pending_of(_stored(store))
    assert pending is not None
    assert "secret" not in pending
    assert new.secret not in repr(_stored(store))
    old = service.totp.wrapping
    assert isinstance(old, StaticKeyring)
    (old_id,) = old.keys
    rotated = StaticKeyring({"w2": StaticKeyring.generate().keys["k1"], **old.keys}, "w2")
    service = FactorService(store, clock=clock, wrapping=rotated)
    assert service.verify_totp(P, code_at(CREDENTIAL, clock.now())).ok  # re-wraps both
    document = _stored(store)
    waiting = fc.pending_of(document)
    assert waiting is not None
    assert document["seed"]["kid"] == waiting["seed"]["kid"] == "w2"  # type: ignore[index]
    # the old key can go: the replacement still confirms
    later = FactorService(
        store, clock=clock, wrapping=StaticKeyring({"w2": rotated.keys["w2"]}, "w2")
    )
    assert old_id != "w2"
    clock.advance(STEP)
    assert later.confirm_totp(P, code_at(new, clock.now())).ok
