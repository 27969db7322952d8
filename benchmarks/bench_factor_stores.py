"""A TOTP code verified through the shell and its store (``Securebox.factors.verify_totp``:
read the wrapped seed and the lockout state, unwrap, verify, move ``last_step`` with
compare-and-swap and an audit event), on memory, SQLite and PostgreSQL, against the minimal
equivalent work measured in the same run: one HOTP (pyotp ``TOTP.at``) and a constant-time
comparison, the seed unwrapped and wrapped again with AES-GCM, in memory the audit event's
HMAC, and on the SQL stores the
store's part written by hand on the raw driver (``bench_consume.Hand``: a read, then one
transaction with a locked chain head, a compare-and-swap, a sealed event and the head
moved). Target: 1.5x, as for the core row of bench_factors. A passkey assertion likewise
(target 2x, as for the core row).

The codes are computed before the clock starts (the user's application computes them).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Final

import pyotp
from backends import LABELS, available, new_store
from bench_consume import PRINCIPAL, Hand, _sessions
from bench_flow import Journey, portal
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from harness import Comparison, compare

from securebox_auth import (
    PROFILE_TESTING,
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


def _totp(kind: str, rounds: int, inner: int) -> Comparison:
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


def _passkey(kind: str, rounds: int, inner: int) -> Comparison:
    """A passkey assertion through ``Securebox.factors`` (the ceremony stored by
    ``begin_passkey_authentication``, then ``finish_passkey``), the authenticator's answer
    included, against the same authenticator's answer to fixed options, one ES256
    verification (the signature made anew), and the store's two writes by hand (SQL: a
    compare-and-swap, then the transaction of ``Hand.consume``; memory: the audit HMAC)."""
    box = portal(kind, PROFILE_TESTING, audit_key=AUDIT_KEY)
    assert isinstance(box.clock, FixedClock)
    journey = Journey(box, box.clock, PRINCIPAL)
    authenticator = journey.authenticator
    store = box.store

    def ours() -> None:
        options, ceremony = box.factors.begin_passkey_authentication(PRINCIPAL)
        assert box.factors.finish_passkey(PRINCIPAL, ceremony.id, authenticator.get(options)).ok

    key = ec.generate_private_key(ec.SECP256R1())
    public, algorithm = key.public_key(), ec.ECDSA(hashes.SHA256())
    message = b"\x01" * 37 + hashlib.sha256(b"client data").digest()
    payload = b"passkey.verify " + PRINCIPAL.key.encode()
    hand = Hand(store) if isinstance(store, SqlStore) else None
    calls = 2 + rounds * inner
    keys: Iterator[str] = iter([])
    if isinstance(store, SqlStore):
        now = box.clock.now()
        grant = Grant("x", PRINCIPAL, None, now, now + timedelta(minutes=5), ("pwd",))
        keys = iter([session_key(s) for s in _sessions(store, grant, 2 * calls)])

    fixed, _ = box.factors.begin_passkey_authentication(PRINCIPAL)  # the client's work, alike

    def bare() -> None:
        authenticator.get(fixed)
        public.verify(key.sign(message, algorithm), message, algorithm)
        if hand is None:
            hmac.digest(AUDIT_KEY, payload, "sha256")
        else:
            hand.bare(next(keys))
            hand.consume(next(keys), payload)

    result = compare(
        (f"passkey via Securebox.factors [{LABELS[kind]}]", ours),
        ("client's answer + ES256 verify + the store's work by hand", bare),
        target=2.0,
        rounds=rounds,
        inner=inner,
    )
    if hand is not None:
        hand.close()
    return result


def run(quick: bool = False) -> list[Comparison]:
    rounds = 5 if quick else 11
    rows = []
    for kind in available():
        inner = 20 if kind == "memory" else 5
        rows += [_totp(kind, rounds, inner), _passkey(kind, rounds, inner)]
    return rows
