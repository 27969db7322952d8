"""The read connections kept out of the pool (:mod:`securebox_auth.stores.sql.read_connections`):
bounded, right under threads, never a transaction left open, closed with the engine, and a
forked child does not use its parent's."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
from sqlalchemy import Engine

from securebox_auth.audit import AuditEvent
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.stores.protocols import PutLockout
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.read_connections import KEEP, read_connections
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import AUDIT_KEY
from tests.stores.sql.test_store import PRINCIPALS
from tests.support import NOW

THREADS = 6
READS = 40


def _event() -> AuditEvent:
    return AuditEvent.make(NOW, "login.code", actor="t", subject="s", outcome="failure")


def test_threads_read_what_was_committed_on_a_bounded_set(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    for n, principal in enumerate(PRINCIPALS, start=1):
        store.commit([PutLockout(principal, 0, LockoutState(failures=n))], [_event()])
    wrong: list[object] = []
    start = threading.Barrier(THREADS)

    def reader(index: int) -> None:
        start.wait()
        for round_ in range(READS):
            n = (index + round_) % len(PRINCIPALS)
            found = store.get_lockout(PRINCIPALS[n])
            if found.value.failures != n + 1:
                wrong.append(found)
            # a write in between: reads see it at once (autocommit, no snapshot kept)
            if index == 0 and round_ == READS // 2:
                current = store.get_lockout(PRINCIPALS[0])
                store.commit(
                    [PutLockout(PRINCIPALS[0], current.version, LockoutState(failures=1))],
                    [_event()],
                )

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    kept = read_connections(sql_engine)._idle
    assert 1 <= len(kept) <= KEEP
    for raw, _ in kept:  # idle in autocommit: no transaction holds a snapshot or a lock
        driver = raw.driver_connection
        if sql_engine.dialect.name == "postgresql":
            assert driver.autocommit
            assert driver.info.transaction_status == 0
        else:
            assert not driver.in_transaction


def test_disposing_of_the_engine_closes_them(database_url: str) -> None:
    engine = create_engine(database_url)
    store = SqlStore(engine, audit_key=AUDIT_KEY)
    store.get_lockout(PRINCIPALS[0])
    kept = [raw.driver_connection for raw, _ in read_connections(engine)._idle]
    assert kept
    engine.dispose()
    assert read_connections(engine)._idle == []
    for driver in kept:  # closed
        if engine.dialect.name == "postgresql":
            assert driver.closed
        else:
            with pytest.raises(sqlite3.ProgrammingError, match="closed"):
                driver.execute("SELECT 1")
    assert store.get_lockout(PRINCIPALS[0]).version == 0  # a new one from the new pool
    engine.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_does_not_use_the_parents(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        store.get_lockout(PRINCIPALS[0])
        parents = {id(raw) for raw, _ in read_connections(engine)._idle}
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                engine.dispose(close=False)  # as SQLAlchemy asks of a forked child
                store.get_lockout(PRINCIPALS[0])
                ours = {id(raw) for raw, _ in read_connections(engine)._idle}
                code = 0 if ours and not ours & parents else 2
            finally:
                os.write(write, bytes([code]))
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.waitpid(pid, 0)
        os.close(read)
        assert answer == b"\x00"
    finally:
        engine.dispose()
