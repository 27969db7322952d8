"""A confidential-code login through the core and its store, and a whole login flow through
the entry point (memory and SQLite), against one bare argon2id verification with the same
parameters. Targets: 1.05x for the core, 1.10x for the flow in memory, 1.35x on SQLite, whose
three durable commits (flow, verdict, session) each wait for the disk."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import argon2
from harness import Comparison, compare

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.identity import Principal
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore


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
    baseline = ("bare argon2id verify (same parameters)", lambda: bare.verify(encoded, secret))
    return [
        compare(
            ("code login via core + memory store", login),
            baseline,
            target=1.05,
            rounds=rounds,
            inner=3,
        ),
        compare(
            ("login flow via Securebox + memory store", _flow_login("memory", params)),
            baseline,
            target=1.10,
            rounds=rounds,
            inner=3,
        ),
        compare(
            ("login flow via Securebox + SQLite (FULL sync)", _flow_login("sqlite", params)),
            baseline,
            target=1.35,
            rounds=rounds,
            inner=3,
        ),
    ]


def _flow_login(store_kind: str, params: object) -> Callable[[], None]:
    """A whole login through the entry point: start the flow, answer with the code (a recent
    strong login lets the code alone in), the session opened; on ``store_kind``."""
    from securebox_auth import (  # noqa: PLC0415 - only this benchmark needs the entry point
        PSD2_DEFAULT,
        CodeAnswer,
        DerivedKeys,
        Securebox,
        open_sql_store,
    )

    if store_kind == "memory":
        store: AuthStore = MemoryStore()
    else:
        folder = Path(tempfile.mkdtemp(prefix="securebox-bench-"))
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        store = open_sql_store(url, audit_key=b"\x07" * 32, migrate=True)
    clock = FixedClock()
    box = Securebox.from_policy(
        PSD2_DEFAULT,
        store=store,
        keys=DerivedKeys.from_hex("m1:" + "5a" * 32),
        clock=clock,
        argon2=params,  # type: ignore[arg-type]
    )
    principal = Principal.parse("123456789", "01")
    one_time = box.codes.create_subscription(Operator("bench"), principal)
    box.codes.change_code("123456789", "01", one_time.reveal(), "47120938")
    box.factors.record_sca(principal, "web", clock.now())

    def login() -> None:
        page = box.start_login("123456789", "01")
        page = box.answer_login(page.handle, CodeAnswer("47120938"))
        assert page.session_id is not None, page.explain()
        clock.advance(timedelta(seconds=1))

    return login
