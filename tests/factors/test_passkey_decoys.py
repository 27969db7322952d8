"""begin_passkey_authentication answers alike for every claimed principal.

A principal with passkeys gets its credential ids in ``allowCredentials``; any other claim
(no account, an inactive account, no passkey, every passkey revoked) gets one or two decoy
ids of common lengths, derived by HMAC from the claim: the same claim always gets the same
list, and the options have the same shape (WebAuthn L3 section 14.6.2; ASVS 5.0 6.3.8).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.passkeys import RelyingParty, decoy_credential_ids, revoke_passkey
from securebox_auth.factors.webauthn_fast import b64url_decode
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.identity import Principal
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import PutAccount
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.support import NOW

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
KEYS = StaticKeyring.generate()
ENROLLED = Principal.parse("123456789", "01")
DISABLED = Principal.parse("123456789", "02")
REVOKED = Principal.parse("123456789", "03")
NO_PASSKEY = Principal.parse("123456789", "04")
UNKNOWN = Principal.parse("987654321", "01")
LENGTHS = {16, 20, 32, 64}


def _world() -> tuple[FactorService, SoftAuthenticator]:
    store = MemoryStore()
    accounts = [
        Account(ENROLLED, Role.USER, NOW),
        Account(DISABLED, Role.USER, NOW, status=AccountStatus.DISABLED),
        Account(REVOKED, Role.USER, NOW),
        Account(NO_PASSKEY, Role.USER, NOW),
    ]
    store.commit([PutAccount(a.principal, 0, a) for a in accounts], [])
    service = FactorService(
        store, clock=FixedClock(NOW + timedelta(seconds=5)), relying_party=RP, keys=KEYS
    )
    auth = SoftAuthenticator()
    for principal in (ENROLLED, DISABLED, REVOKED):
        options, ceremony, owned = begin_registration(
            RP, principal, None, now=NOW, user_name=principal.key, display_name="Jeanne"
        )
        registered = finish_registration(
            RP, ceremony, owned, principal, auth.create(options), now=NOW
        )
        passkeys = registered.passkeys
        assert passkeys is not None
        if principal == REVOKED:
            passkeys, _ = revoke_passkey(
                passkeys, passkeys.passkeys[0].credential_id, actor="a", subject="s", now=NOW
            )
        service.put_state(principal, fc.PASSKEYS, DEFAULT_ITEM, fc.passkeys_to_dict(passkeys))
    return service, auth


def _shape(options: dict[str, Any]) -> tuple[object, ...]:
    public = options["publicKey"]
    allowed = public["allowCredentials"]
    return (
        sorted(options),
        sorted(public),
        public["userVerification"],
        public["rpId"],
        bool(allowed),
        [sorted(entry) for entry in allowed][:1],
        {str(entry["type"].value) for entry in allowed},
    )


def _ids(options: dict[str, Any]) -> list[bytes]:
    return [b64url_decode(entry["id"]) for entry in options["publicKey"]["allowCredentials"]]


def test_every_claim_gets_options_of_the_same_shape() -> None:
    service, auth = _world()
    shapes = {}
    for principal in (ENROLLED, DISABLED, REVOKED, NO_PASSKEY, UNKNOWN):
        options, _ = service.begin_passkey_authentication(principal)
        shapes[principal] = _shape(options)
        again, _ = service.begin_passkey_authentication(principal)
        assert _ids(again) == _ids(options)  # stable for the same claim
        if principal != ENROLLED:
            assert _ids(options) == list(decoy_credential_ids(KEYS, RP.id, principal.key))
            assert all(len(i) in LENGTHS for i in _ids(options))
    assert all(shape == shapes[ENROLLED] for shape in shapes.values()), shapes
    enrolled, _ = service.begin_passkey_authentication(ENROLLED)
    real = b64url_decode(enrolled["publicKey"]["allowCredentials"][0]["id"])
    assert len(real) in LENGTHS  # the software authenticator's ids look like the decoys
    # a decoy ceremony never succeeds, whatever the answer
    options, ceremony = service.begin_passkey_authentication(UNKNOWN)
    assert not service.finish_passkey(UNKNOWN, ceremony.id, auth.get(options)).ok


def test_the_service_needs_keys_for_decoys() -> None:
    service = FactorService(MemoryStore(), clock=FixedClock(NOW), relying_party=RP)
    with pytest.raises(ConfigurationError):
        service.begin_passkey_authentication(UNKNOWN)


@settings(max_examples=200, deadline=None)
@given(
    client=st.from_regex(r"[0-9]{9}", fullmatch=True),
    user=st.from_regex(r"[0-9]{2}", fullmatch=True),
)
def test_property_decoys_are_stable_plausible_and_per_claim(client: str, user: str) -> None:
    key = f"{client}:{user}"
    ids = decoy_credential_ids(KEYS, RP.id, key)
    assert ids == decoy_credential_ids(KEYS, RP.id, key)
    assert 1 <= len(ids) <= 2
    assert all(len(i) in LENGTHS for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids != decoy_credential_ids(KEYS, RP.id, key + "0")
    assert ids != decoy_credential_ids(StaticKeyring.generate(), RP.id, key)
