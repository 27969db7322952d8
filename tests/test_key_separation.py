"""Keys for different purposes are different keys: ensure_distinct_keys and the services
that receive more than one key refuse the same bytes for two purposes (KeyReuse)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring, ensure_distinct_keys, key_check_value
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import ConfigurationError, KeyReuse
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.sql.store import SqlStore
from tests.support import NOW

K1, K2, K3, K4 = (secrets.token_bytes(32) for _ in range(4))


def _ring(key: bytes, key_id: str = "k1") -> StaticKeyring:
    return StaticKeyring({key_id: key}, key_id)


def _hasher(key: bytes) -> Argon2CodeHasher:
    return Argon2CodeHasher(_ring(key, "pepper"), PROFILE_TESTING)


def test_distinct_keys_pass() -> None:
    ensure_distinct_keys({"pepper": _ring(K1), "audit": K2, "wrapping": _ring(K3), "x": None})


def test_the_same_bytes_under_other_ids_are_refused() -> None:
    with pytest.raises(KeyReuse) as raised:
        ensure_distinct_keys({"pepper": _ring(K1, "p1"), "wrapping": _ring(K1, "w1")})
    assert raised.value.purposes == ("pepper", "wrapping")
    assert raised.value.code == "key_reuse"


def test_a_rotated_key_reused_elsewhere_is_refused() -> None:
    rotating = StaticKeyring({"new": K1, "old": K2}, "new")
    with pytest.raises(KeyReuse):
        ensure_distinct_keys({"wrapping": rotating, "audit": K2})


def test_a_provider_with_only_mac_is_compared_through_mac() -> None:
    class Hsm:
        """An HSM-like provider: MACs only, no check values, no key out."""

        current_key_id = "hsm"

        def mac(self, key_id: str, message: bytes) -> bytes:
            return _ring(K1, "hsm").mac(key_id, message)

    with pytest.raises(KeyReuse):
        ensure_distinct_keys({"pepper": Hsm(), "audit": K1})
    ensure_distinct_keys({"pepper": Hsm(), "audit": K2})
    with pytest.raises(ConfigurationError):
        ensure_distinct_keys({"pepper": object()})  # type: ignore[dict-item]


@given(st.lists(st.sampled_from([K1, K2, K3, K4]), min_size=2, max_size=5))
def test_any_repeated_key_is_refused(chosen: list[bytes]) -> None:
    purposes = {f"purpose{i}": _ring(k, f"id{i}") for i, k in enumerate(chosen)}
    if len(set(chosen)) == len(chosen):
        ensure_distinct_keys(purposes)
    else:
        with pytest.raises(KeyReuse):
            ensure_distinct_keys(purposes)


def test_the_check_value_is_not_the_key() -> None:
    assert key_check_value(K1) != K1
    assert key_check_value(K1) == _ring(K1).key_check_values()["k1"]


def test_factor_service_refuses_shared_keys() -> None:
    store = MemoryStore(audit_key=K1)
    FactorService(store, hasher=_hasher(K2), keys=_ring(K3), wrapping=_ring(K4))
    for hasher, keys, wrapping in [
        (_hasher(K1), _ring(K3), _ring(K4)),  # pepper = audit
        (_hasher(K2), _ring(K2), _ring(K4)),  # pepper = application keys
        (_hasher(K2), _ring(K3), _ring(K3)),  # application keys = wrapping
        (_hasher(K4), _ring(K3), _ring(K4)),  # pepper = wrapping
        (_hasher(K2), _ring(K3), _ring(K1)),  # wrapping = audit
    ]:
        with pytest.raises(KeyReuse):
            FactorService(store, hasher=hasher, keys=keys, wrapping=wrapping)


def test_factor_service_refuses_the_issuer_wrap_key_elsewhere() -> None:
    issuer = SoftwareIssuerKeys({"imk1": secrets.token_bytes(16)}, "imk1", K4)
    FactorService(MemoryStore(audit_key=K1), issuer=issuer, wrapping=_ring(K3))
    with pytest.raises(KeyReuse):
        FactorService(MemoryStore(audit_key=K1), issuer=issuer, wrapping=_ring(K4))


def test_code_service_refuses_the_audit_key_as_pepper(tmp_path: Path) -> None:
    ConfidentialCodeService(MemoryStore(audit_key=K1), _hasher(K2))
    with pytest.raises(KeyReuse):
        ConfidentialCodeService(MemoryStore(audit_key=K1), _hasher(K1))
    store = SqlStore.from_url(f"sqlite:///{tmp_path}/store.sqlite3", audit_key=K2)
    try:
        with pytest.raises(KeyReuse):
            ConfidentialCodeService(store, _hasher(K2), clock=FixedClock(NOW))
    finally:
        store.engine.dispose()


def test_entitlement_service_refuses_the_pepper_as_company_proof_key() -> None:
    store = MemoryStore(audit_key=K1)
    EntitlementService(store, _hasher(K2), company_proofs=KeyedCompanyProofs(_ring(K3)))
    with pytest.raises(KeyReuse):
        EntitlementService(store, _hasher(K2), company_proofs=KeyedCompanyProofs(_ring(K2)))
    with pytest.raises(KeyReuse):
        EntitlementService(store, _hasher(K2), company_proofs=KeyedCompanyProofs(_ring(K1)))
