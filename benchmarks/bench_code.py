"""A confidential-code login through the core and its store, against one bare argon2id
verification with the same parameters. Target: <= 1.05x (docs/performance targets)."""

from __future__ import annotations

import argon2
from harness import Comparison, compare

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.identity import Principal
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.stores.memory import MemoryStore


def run(quick: bool = False) -> list[Comparison]:
    params = PROFILE_2026
    bare = argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        salt_len=params.salt_len,
    )
    secret = b"\x01" * 32
    encoded = bare.hash(secret)

    store = MemoryStore()
    service = ConfidentialCodeService(
        store, Argon2CodeHasher(StaticKeyring.generate(), params), clock=FixedClock()
    )
    principal = Principal.parse("123456789", "01")
    one_time = service.create_account(Operator("bench"), principal, Role.USER)
    service.change_code("123456789", "01", one_time.reveal(), "47120938")

    def login() -> None:
        result = service.login("123456789", "01", "47120938")
        assert result.authenticated

    rounds = 5 if quick else 15
    return [
        compare(
            ("code login via core + memory store", login),
            ("bare argon2id verify (same parameters)", lambda: bare.verify(encoded, secret)),
            target=1.05,
            rounds=rounds,
            inner=3,
        )
    ]
