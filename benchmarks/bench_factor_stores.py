"""A TOTP code verified through the shell and its store (``Securebox.factors.verify_totp``:
read the wrapped seed and the lockout state, unwrap, verify, move ``last_step`` with
compare-and-swap and an audit event), on memory, SQLite and PostgreSQL, against the minimal
equivalent work measured in the same run: one HOTP (pyotp ``TOTP.at``) and a constant-time
comparison, the seed unwrapped and wrapped again with AES-GCM, in memory the audit event's
HMAC, and on the SQL stores the
store's part written by hand on the raw driver (``bench_consume.Hand``: a read, then one
transaction with a locked chain head, a compare-and-swap, a sealed event and the head
moved). Target: 1.5x, as for the core row of bench_factors.

The codes are computed before the clock starts (the user's application computes them).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Final

import pyotp
from backends import LABELS, available, new_store
from bench_consume import PRINCIPAL, Hand, _sessions
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from harness import Comparison, compare

from securebox_auth import (
    DerivedKeys,
    FixedClock,
    Grant,
    Operator,
    Securebox,
    from_toml,
    totp_code_at,
)
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.sql.store import SqlStore

AUDIT_KEY: Final = b"\x07" * 32
STEP: Final = timedelta(seconds=31)
POLICY: Final = 'version = 1\nname = "bench-totp"\n'


def _rows(kind: str, rounds: int, inner: int) -> Comparison:
    store = new_store(kind, AUDIT_KEY)
    clock = FixedClock()
    box = Securebox.from_policy(
        from_toml(POLICY),
        store=store,
        keys=DerivedKeys.from_hex("m1:" + "5a" * 32),
        clock=clock,
    )
    box.codes.create_subscription(Operator("bench"), PRINCIPAL)
    credential = box.enrol_first_totp(Operator("bench"), PRINCIPAL).credential
    assert box.confirm_totp(PRINCIPAL, totp_code_at(credential, clock.now()))
    calls = 2 + rounds * inner
    start = clock.now()
    codes = iter([totp_code_at(credential, start + STEP * (i + 1)) for i in range(calls)])

    def ours() -> None:
        clock.advance(STEP)
        assert box.factors.verify_totp(PRINCIPAL, next(codes)).ok

    reference = pyotp.TOTP(credential.secret)
    now = clock.now()
    code = reference.at(now)
    aead = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, credential.secret.encode(), b"totp")
    payload = b"totp.verify " + PRINCIPAL.key.encode()

    def store_work() -> None:  # memory: the audit event sealed into the chain
        hmac.digest(AUDIT_KEY, payload, "sha256")

    work: Callable[[], None] = store_work
    hand = None
    if isinstance(store, SqlStore):
        grant = Grant("x", PRINCIPAL, None, now, now + timedelta(minutes=5), ("pwd",))
        keys = iter([session_key(s) for s in _sessions(store, grant, calls)])
        hand = Hand(store)

        def sql_work() -> None:
            assert hand is not None
            hand.consume(next(keys), payload)

        work = sql_work

    def bare() -> None:
        secret = aead.decrypt(nonce, sealed, b"totp")
        assert hmac.compare_digest(reference.at(now), code)
        aead.encrypt(os.urandom(12), secret, b"totp")
        work()

    result = compare(
        (f"TOTP verify via Securebox.factors [{LABELS[kind]}]", ours),
        ("one HOTP + seed unwrap/wrap + the store's work by hand", bare),
        target=1.5,
        rounds=rounds,
        inner=inner,
    )
    if hand is not None:
        hand.close()
    return result


def run(quick: bool = False) -> list[Comparison]:
    rounds = 5 if quick else 11
    return [_rows(kind, rounds, 20 if kind == "memory" else 5) for kind in available()]
