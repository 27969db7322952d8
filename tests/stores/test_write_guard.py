"""stores/write_guard.py: inside ``writes_refused()`` every write transaction is
refused before anything reaches the database (the store's commits, ``Database.write``,
and SQLAlchemy transactions begun with ``WRITE_OPTION``); reads go on, and other threads
and other contexts write as usual."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from securebox_auth.clock import SystemClock
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.stores.protocols import OpenSession
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.stores.write_guard import WriteRefused, writes_refused
from tests.stores.conftest import AUDIT_KEY

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALICE = Principal.parse("100000001", "01")


def _opened() -> OpenSession:
    return OpenSession(open_session(ALICE, "web", ["confidential_code"], NOW))


def _audit_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one())


def test_a_commit_is_refused_before_it_begins_and_reads_go_on(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    first = _opened()
    store.commit([first], [])
    before = _audit_rows(sql_engine)
    refused = _opened()
    with writes_refused():
        assert store.get_session(first.session_id) is not None  # a read
        with pytest.raises(WriteRefused):
            store.commit([refused], [])
        with pytest.raises(WriteRefused), Database(sql_engine).write("SELECT 1"):
            pass
        with (
            pytest.raises(WriteRefused),
            sql_engine.execution_options(**{WRITE_OPTION: True}).begin() as conn,
        ):
            conn.execute(text("DELETE FROM audit_events"))
        with pytest.raises(WriteRefused), Database(sql_engine).transaction():
            pass
    assert store.get_session(refused.session_id) is None
    assert _audit_rows(sql_engine) == before
    store.commit([refused], [])  # outside, the same commit is applied
    assert store.get_session(refused.session_id) is not None


def test_the_refusal_belongs_to_its_context(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    elsewhere = _opened()
    failures: list[BaseException] = []

    def other_thread() -> None:
        try:
            store.commit([elsewhere], [])
        except BaseException as error:
            failures.append(error)

    with writes_refused():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        with writes_refused():  # nested: still refused after the inner block
            pass
        with pytest.raises(WriteRefused):
            store.commit([_opened()], [])
    assert failures == []
    assert store.get_session(elsewhere.session_id) is not None


def test_the_clock_lets_a_refused_write_through_and_exchanges_its_mark_later(
    sql_engine: Engine,
) -> None:
    """The clock's mark tolerates a failed write (it tries again later); a refused one is
    not a failure: it reaches the caller, which runs again where it may write."""
    clock = MonotonicClock(SystemClock(), SqlClockMarks(sql_engine))
    with writes_refused(), pytest.raises(WriteRefused):
        clock.now()  # the first reading writes the process's mark
    assert SqlClockMarks(sql_engine).read() is None
    first = clock.now()
    stored = SqlClockMarks(sql_engine).read()
    assert stored is not None
    assert stored.at <= first
