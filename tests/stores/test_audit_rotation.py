"""A rotation of the audit key on each store (memory, SQLite, PostgreSQL; ADR 0059): the
events sealed before and after verify, with their anchors and checkpoints; an event sealed
under the retired key after the rotation, an edited key id and a key removed from the
keyring are each reported; a database of before migration 0009 verifies after the upgrade
and a rotation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from securebox_auth.audit import GLOBAL, AuditChainBroken, AuditEvent, SealedEvent, seal
from securebox_auth.audit_keys import AuditKeyMissing, AuditKeyring, AuditKeys
from securebox_auth.clock import FixedClock
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.audit_checkpoint import FileCheckpoints, take_checkpoint
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.sql import codec, migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import AUDIT_EVENTS
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import BACKENDS
from tests.support import NOW

A, B = "111111", "222222"
K1, K2 = b"\x11" * 32, b"\x22" * 32
RING1 = AuditKeyring({"m1": K1}, ("m1",))
RING21 = AuditKeyring({"m2": K2, "m1": K1}, ("m2", "m1"))
SIGNER = Ed25519PrivateKey.generate()

Store = MemoryStore | SqlStore
Opener = Callable[[AuditKeys], Store]


def _event(n: int, subject: str) -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n), "login.code", actor=subject, subject=subject, outcome="ok"
    )


def _fill(store: Store, first: int, subjects: list[str]) -> None:
    for n, subject in enumerate(subjects, start=first):
        store.commit([], [_event(n, subject)])


@pytest.fixture(params=BACKENDS)
def reopen(request: pytest.FixtureRequest) -> Iterator[Opener]:
    """Opens the same stored chains with other keys, as a process restarted with a rotated
    key does (the memory store, which a restart would empty, gets the keys in place)."""
    if request.param == "memory":
        memory = MemoryStore(audit_keys=RING1)

        def in_place(keys: AuditKeys) -> Store:
            ring = keys if isinstance(keys, AuditKeyring) else AuditKeyring.single(keys)
            memory.audit_keys = ring
            memory.audit_key = ring.keys[ring.current]
            return memory

        yield in_place
        return
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    engine = create_engine(request.getfixturevalue(fixture))

    def on_engine(keys: AuditKeys) -> Store:
        if isinstance(keys, AuditKeyring):
            return SqlStore(engine, audit_keys=keys)
        return SqlStore(engine, audit_key=keys)

    yield on_engine
    engine.dispose()


def _checkpoint(store: Store, sink: FileCheckpoints, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=1))
    store.anchor(clock.now())
    for chain in [GLOBAL, *store.audit_tenants()]:
        take_checkpoint(store, sink, SIGNER, clock, tenant=chain)


def test_a_rotation_keeps_every_chain_verifiable(reopen: Opener, tmp_path: Path) -> None:
    sink, clock = FileCheckpoints(tmp_path / "points.jsonl"), FixedClock(NOW)
    store = reopen(RING1)
    _fill(store, 0, [f"{A}:01", f"{A}:01", "someone", f"{B}:01"])
    _checkpoint(store, sink, clock)
    store = reopen(RING21)  # the restart after the rotation m1 -> m2
    _fill(store, 10, [f"{A}:01", "someone", f"{B}:01", f"{B}:02"])
    _checkpoint(store, sink, clock)
    assert [e.key_id for e in store.audit_log(A)] == ["m1", "m1", "m2"]
    assert [e.key_id for e in store.audit_log(GLOBAL)] == ["m1", "m1", "m1", "m2", "m2", "m2"]
    public = SIGNER.public_key()
    points = sink.checkpoints()
    verified = verify_audit_chains(RING21, store, checkpoints=points, public_key=public)
    assert verified.events == {GLOBAL: 6, A: 3, B: 3}
    # without the newer key, or after the older one is removed: a key is missing, named
    with pytest.raises(AuditKeyMissing, match="'m2'"):
        verify_audit_chains(RING1, store)
    m2_only = AuditKeyring({"m2": K2}, ("m2",))
    with pytest.raises(AuditKeyMissing, match="'m1'") as caught:
        verify_audit_chains(m2_only, store, checkpoints=points, public_key=public)
    assert (caught.value.chain, caught.value.sequence) == (GLOBAL, 1)
    # the old code's single key: nothing under an id verifies
    with pytest.raises(AuditKeyMissing):
        verify_audit_chains(K2, store)


def test_an_event_under_the_retired_key_after_the_rotation_is_refused(reopen: Opener) -> None:
    _fill(reopen(RING1), 0, [f"{A}:01"])
    _fill(reopen(RING21), 1, [f"{A}:01"])
    assert verify_audit_chains(RING21, reopen(RING21)).events == {GLOBAL: 0, A: 2}
    # someone holding only the retired (leaked) key m1 appends to the chain: its MACs are
    # right, but the chain had moved to m2
    _fill(reopen(RING1), 2, [f"{A}:01"])
    with pytest.raises(AuditChainBroken, match="older than key 'm2'") as caught:
        verify_audit_chains(RING21, reopen(RING21))
    assert caught.value.sequence == 3


def test_one_unnamed_key_cannot_seal_after_key_ids(reopen: Opener) -> None:
    _fill(reopen(RING1), 0, [f"{A}:01"])
    store = reopen(K1)  # a process given the key alone, without its id
    with pytest.raises(ConfigurationError, match="keyring"):
        store.commit([], [_event(1, f"{A}:01")])
    assert verify_audit_chains(RING21, reopen(RING21)).events == {GLOBAL: 0, A: 1}


@pytest.mark.parametrize("edit", ["m1", "", "m3"])
def test_an_edited_key_id_is_detected(sql_engine: Engine, edit: str) -> None:
    _fill(SqlStore(sql_engine, audit_keys=RING1), 0, [f"{A}:01", f"{A}:01"])
    store = SqlStore(sql_engine, audit_keys=RING21)
    _fill(store, 2, [f"{A}:01", f"{A}:01"])
    assert verify_audit_chains(RING21, store).events == {GLOBAL: 0, A: 4}
    with sql_engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET key_id = :k WHERE chain = :c AND sequence = 3"),
            {"k": edit, "c": A},
        )
    ring = AuditKeyring({"m3": K2, "m2": K2, "m1": K1}, ("m3", "m2", "m1"))
    with pytest.raises(AuditChainBroken, match="does not match its MAC") as caught:
        verify_audit_chains(ring, store)
    assert caught.value.sequence == 3


def _legacy_rows(engine: Engine) -> list[SealedEvent]:
    """Chains sealed as before migration 0009 (one unnamed key, K1), written into the
    database at 0008: two events of the global chain, two of tenant A, and their heads."""
    sealed: dict[str, list[SealedEvent]] = {GLOBAL: [], A: []}
    for n, chain in enumerate([GLOBAL, A, A, GLOBAL]):
        previous = sealed[chain][-1] if sealed[chain] else None
        sealed[chain].append(seal(K1, previous, _event(n, "x"), chain=chain))
    rows = [codec.event_row(s) for s in [*sealed[GLOBAL], *sealed[A]]]
    with engine.begin() as conn:
        # only the columns given are inserted: the table has no key_id yet
        conn.execute(
            AUDIT_EVENTS.insert(), [{k: v for k, v in r.items() if k != "key_id"} for r in rows]
        )
        conn.execute(
            text("UPDATE audit_chains SET sequence = 2, mac = :m WHERE chain = ''"),
            {"m": sealed[GLOBAL][-1].mac},
        )
        conn.execute(
            text("INSERT INTO audit_chains VALUES (:c, 2, :m, 1)"),
            {"c": A, "m": sealed[A][-1].mac},
        )
    return sealed[GLOBAL]


def test_a_database_of_before_verifies_after_the_upgrade_and_a_rotation(
    empty_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0008")
        legacy = _legacy_rows(engine)
        sink, clock = FileCheckpoints(tmp_path / "points.jsonl"), FixedClock(NOW)
        take_checkpoint(SqlStore(engine, audit_key=K1), sink, SIGNER, clock)  # reads only
        migrate.upgrade(engine)
        # the server starts again with its keyring: K1 is the audit key of master id m1
        store = SqlStore(engine, audit_keys=RING1)
        assert list(store.audit_log(GLOBAL)) == legacy  # as sealed, without a key id
        _fill(store, 10, [f"{A}:01", "x"])
        _checkpoint(store, sink, clock)
        store = SqlStore(engine, audit_keys=RING21)
        _fill(store, 20, [f"{A}:01", "x"])
        _checkpoint(store, sink, clock)
        assert [e.key_id for e in store.audit_log(A)] == ["", "", "m1", "m2"]
        points, public = sink.checkpoints(), SIGNER.public_key()
        verified = verify_audit_chains(RING21, store, checkpoints=points, public_key=public)
        assert verified.events == {GLOBAL: 6, A: 4}
        # events under key ids cannot go back below 0009: refused, nothing changes
        with pytest.raises(RuntimeError, match="key ids"):
            migrate.downgrade(engine, "0008")
        assert migrate.current(engine) == migrate.head()
        assert verify_audit_chains(RING21, store).total == 10
    finally:
        engine.dispose()
