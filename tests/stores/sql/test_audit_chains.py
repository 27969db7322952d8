"""The per-subscription audit chains of a SQL store (ADR 0021) on SQLite and PostgreSQL:
migration 0004 keeps the single chain of before verifiable as the global chain; a tenant
chain cut or rewritten in the database is caught by its anchor; the ``securebox audit``
commands; and on PostgreSQL, commits of two subscriptions do not wait for each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from securebox_auth.audit import GENESIS, GLOBAL, AuditChainBroken, AuditEvent, SealedEvent, seal
from securebox_auth.cli import main
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.audit_checkpoint import make_checkpoint
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import DATABASE_URL_ENV, create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import AUDIT_KEY
from tests.support import NOW

A, B = "111111", "222222"
SIGNER = Ed25519PrivateKey.generate()
_WAIT = 10.0  # seconds: a bound on what must happen, never a pause


def _event(n: int, subject: str) -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n), "login.code", actor=subject, subject=subject, outcome="ok"
    )


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine(empty_database_url)
    yield engine
    engine.dispose()


def _fill(store: SqlStore, chains: dict[str, int]) -> None:
    for subject, count in chains.items():
        for n in range(count):
            store.commit([], [_event(n, subject)])


def test_the_chain_of_before_becomes_the_global_chain(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0003")
    legacy: list[SealedEvent] = []
    for n in range(3):
        legacy.append(seal(AUDIT_KEY, legacy[-1] if legacy else None, _event(n, f"{A}:01")))
    with empty_engine.begin() as conn:
        for s in legacy:
            conn.execute(
                text(
                    "INSERT INTO audit_events (sequence, at, at_text, action, actor, subject, "
                    "outcome, details, previous, mac) VALUES (:s, :at, :t, 'login.code', :a, "
                    ":a, 'ok', '[]', :p, :m)"
                ),
                {
                    "s": s.sequence,
                    "at": s.event.at,
                    "t": s.event.at.isoformat(timespec="microseconds"),
                    "a": f"{A}:01",
                    "p": s.previous,
                    "m": s.mac,
                },
            )
        conn.execute(
            text("UPDATE audit_head SET sequence = 3, mac = :m, version = 4"), {"m": legacy[-1].mac}
        )
    checkpoint = make_checkpoint(SIGNER, 3, legacy[-1].mac, NOW)
    migrate.upgrade(empty_engine)
    store = SqlStore(empty_engine, audit_key=AUDIT_KEY)
    # the old events (of subscription A) stay in the global chain, as they were sealed
    assert list(store.audit_log(GLOBAL)) == legacy
    assert store.audit_head() == (3, legacy[-1].mac)
    assert store.audit_tenants() == []
    store.commit([], [_event(9, "someone"), _event(9, f"{A}:01")])
    assert store.audit_head() == (4, store.audit_head()[1])
    assert store.audit_head(A)[0] == 1
    verified = verify_audit_chains(
        AUDIT_KEY, store, checkpoints=[checkpoint], public_key=SIGNER.public_key()
    )
    assert verified.events == {GLOBAL: 4, A: 1}
    assert [s.sequence for s in store.audit_log()] == [1, 2, 3, 4, 1]
    # tenant events cannot go back to one chain: the downgrade is refused, nothing changes
    with pytest.raises(RuntimeError, match="tenant audit chains"):
        migrate.downgrade(empty_engine, "0003")
    assert verify_audit_chains(AUDIT_KEY, store).events == {GLOBAL: 4, A: 1}


def test_a_global_chain_alone_goes_back_to_0003_and_up_again(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    store = SqlStore(empty_engine, audit_key=AUDIT_KEY)
    _fill(store, {"someone": 2})
    head = store.audit_head()
    migrate.downgrade(empty_engine, "0003")
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT id, sequence, mac FROM audit_head")).one()
        assert tuple(row) == (1, 2, head[1])
        assert conn.execute(text("SELECT COUNT(*) FROM audit_events")).scalar_one() == 2
    migrate.upgrade(empty_engine)
    _fill(store, {"someone": 1, f"{B}:01": 1})
    assert verify_audit_chains(AUDIT_KEY, store).events == {GLOBAL: 3, B: 1}


def _cut(engine: Engine, chain: str, keep: int) -> None:
    """Delete a tenant chain's last events and move its head row back, consistently."""
    with engine.begin() as conn:
        mac = conn.execute(
            text("SELECT mac FROM audit_events WHERE chain = :c AND sequence = :s"),
            {"c": chain, "s": keep},
        ).scalar_one_or_none()
        conn.execute(
            text("DELETE FROM audit_events WHERE chain = :c AND sequence > :s"),
            {"c": chain, "s": keep},
        )
        conn.execute(
            text("UPDATE audit_chains SET sequence = :s, mac = :m WHERE chain = :c"),
            {"c": chain, "s": keep, "m": mac or GENESIS},
        )


def test_a_tenant_chain_cut_or_dropped_in_the_database_fails_at_its_anchor(
    sql_engine: Engine,
) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    _fill(store, {f"{A}:01": 4, f"{B}:01": 3})
    assert [dict(s.event.details)["chain"] for s in store.anchor(NOW)] == [A, B]
    assert store.anchor(NOW) == []  # nothing moved
    _cut(sql_engine, A, 2)
    with pytest.raises(AuditChainBroken, match="'111111' ends at event 2"):
        verify_audit_chains(AUDIT_KEY, store)
    verify_audit_chains(AUDIT_KEY, store, tenants=[B])  # B's trail alone still holds
    _cut(sql_engine, B, 0)  # the whole chain, head row included
    with sql_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_chains WHERE chain = :c"), {"c": B})
    assert store.audit_tenants() == [A]
    with pytest.raises(AuditChainBroken, match="'222222' ends at event 0"):
        verify_audit_chains(AUDIT_KEY, store, tenants=[B])


def test_the_anchor_and_tenant_commands(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, sqlite_url)
    monkeypatch.setenv("SECUREBOX_AUDIT_KEY", AUDIT_KEY.hex())
    signing, public, points = (str(tmp_path / n) for n in ("k.pem", "p.pem", "c.jsonl"))
    assert main(["audit", "keygen", "--signing-key", signing, "--public-key", public]) == 0
    engine = create_engine(sqlite_url)
    try:
        _fill(SqlStore(engine, audit_key=AUDIT_KEY), {f"{A}:01": 3, f"{B}:01": 2})
        checkpoint = ["audit", "checkpoint", "--checkpoint", points, "--signing-key", signing]
        verify = ["audit", "verify", "--checkpoint", points, "--public-key", public]
        assert main(["audit", "anchor"]) == 0
        assert "anchored 2 tenant chains" in capsys.readouterr().out
        assert main([*checkpoint, "--all-tenants"]) == 0
        out = capsys.readouterr().out
        assert "global chain, event 2" in out
        assert f"chain {A}, event 3" in out
        assert main(verify) == 0
        assert "verified: 7 events in 3 chains" in capsys.readouterr().out
        assert main([*verify, "--tenant", B]) == 0
        assert "verified: 4 events in 2 chains" in capsys.readouterr().out
        assert main([*verify, "--tenant", "not a client"]) == 2
        capsys.readouterr()
        _cut(engine, A, 1)
        assert main([*verify, "--tenant", B]) == 0  # another tenant's trail is intact
        capsys.readouterr()
        assert main([*verify, "--tenant", A]) == 1
        assert "BROKEN" in capsys.readouterr().out
    finally:
        engine.dispose()


# -- PostgreSQL: two subscriptions never wait for each other ------------------------------------


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {_WAIT} s: {what}")
        time.sleep(0.01)


def test_a_commit_of_another_subscription_does_not_wait_for_a_held_head(
    fresh_postgres_url: str,
) -> None:
    """A transaction holds tenant A's head row (as a commit of A does until it ends). A
    commit of B completes meanwhile; a second commit of A waits on the lock (PostgreSQL
    says so) and completes once the first ends."""
    engine = create_engine(fresh_postgres_url)
    holder = create_engine(fresh_postgres_url)
    store = SqlStore(engine, audit_key=AUDIT_KEY)
    _fill(store, {f"{A}:01": 1, f"{B}:01": 1})
    pool = ThreadPoolExecutor(max_workers=2)
    released = threading.Event()
    try:
        with holder.connect() as conn:
            held = conn.begin()
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.execute(
                text("SELECT version FROM audit_chains WHERE chain = :c FOR UPDATE"), {"c": A}
            )
            of_b: Future[None] = pool.submit(store.commit, [], [_event(2, f"{B}:01")])
            of_b.result(timeout=_WAIT)  # done while A's head is held
            assert store.audit_head(B)[0] == 2
            of_a: Future[None] = pool.submit(store.commit, [], [_event(2, f"{A}:02")])

            def a_waits_on_the_holder() -> bool:
                with engine.connect() as probe:
                    blocked = probe.execute(
                        text(
                            "SELECT COUNT(*) FROM pg_stat_activity "
                            "WHERE :b = ANY(pg_blocking_pids(pid))"
                        ),
                        {"b": backend},
                    ).scalar_one()
                return bool(blocked)

            _until(a_waits_on_the_holder, "the second commit of A waits on A's head")
            assert not of_a.done()
            assert store.audit_head(A)[0] == 1
            held.rollback()
            released.set()
        of_a.result(timeout=_WAIT)
        assert store.audit_head(A)[0] == 2
        assert verify_audit_chains(AUDIT_KEY, store).events == {GLOBAL: 0, A: 2, B: 2}
    finally:
        pool.shutdown(wait=True)
        engine.dispose()
        holder.dispose()
