"""The shared high-water mark of time in the SQL store (ADR 0042), on SQLite and PostgreSQL:
the compare-and-swap only moves it up, an operator reset starts a new epoch, and processes
with wall clocks that disagree and jump never read a time earlier than a mark already
stored.

References: OWASP ASVS 5.0 7.5.3 (a sensitive operation needs a fresh further factor: an
expired grant must not come back), 6.3.1 (a lockout is not undone by moving time); PSD2
RTS art. 4(3)(d) (the validity of the code is limited).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock, Mark
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.stores.sql.clock_mark import (
    EXCHANGE_WAIT_MS,
    SqlClockMarks,
    from_micros,
    to_micros,
)
from securebox_auth.stores.sql.engine import WRITE_OPTION, create_engine
from tests.stores.sql import clock_workers
from tests.stores.sql.processes import run_workers

T0: Final = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
WORKERS: Final = 3
#: Readings per worker (``SECUREBOX_CLOCK_ROUNDS`` for a longer run).
ROUNDS: Final = int(os.environ.get("SECUREBOX_CLOCK_ROUNDS", "40"))


@pytest.fixture
def marks(sql_engine: Engine) -> SqlClockMarks:
    return SqlClockMarks(sql_engine)


def test_micros_round_trip() -> None:
    """The stored integer is exact to the microsecond. ASVS 5.0 7.5.3."""
    assert from_micros(to_micros(T0)) == T0
    assert to_micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_the_mark_only_moves_up(marks: SqlClockMarks) -> None:
    """Created by the first advance; a later time moves it, an earlier one does not (the
    stored, later mark is answered). ASVS 5.0 7.5.3; PSD2 RTS art. 4(3)(d)."""
    assert marks.read() is None
    assert marks.advance(T0, 0) == Mark(T0, 0)
    assert marks.advance(T0 + timedelta(seconds=1), 0) == Mark(T0 + timedelta(seconds=1), 0)
    assert marks.advance(T0 - timedelta(days=1), 0) == Mark(T0 + timedelta(seconds=1), 0)
    assert marks.read() == Mark(T0 + timedelta(seconds=1), 0)


def test_a_reset_starts_a_new_epoch(marks: SqlClockMarks) -> None:
    """The operator's reset sets the mark down and bumps the epoch; an advance of the old
    epoch (a process that has not seen the reset) changes nothing and learns the new
    mark. ASVS 5.0 7.5.3."""
    assert marks.reset(T0) == (None, Mark(T0, 0))
    marks.advance(T0 + timedelta(days=365), 0)
    before, after = marks.reset(T0 + timedelta(seconds=1))
    assert before == Mark(T0 + timedelta(days=365), 0)
    assert after == Mark(T0 + timedelta(seconds=1), 1)
    assert marks.advance(T0 + timedelta(days=400), 0) == after
    assert marks.advance(T0 + timedelta(seconds=2), 1) == Mark(T0 + timedelta(seconds=2), 1)


def test_two_engines_share_the_mark(database_url: str) -> None:
    """Two processes' engines: a clock started on the second reads the first one's mark
    (a restart with the host clock set back). ASVS 5.0 7.5.3; PSD2 RTS art. 4(3)(d)."""
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        ahead = MonotonicClock(FixedClock(T0 + timedelta(minutes=6)), SqlClockMarks(first))
        assert ahead.now() == T0 + timedelta(minutes=6)
        behind = MonotonicClock(FixedClock(T0 + timedelta(minutes=1)), SqlClockMarks(second))
        assert behind.now() == T0 + timedelta(minutes=6)
    finally:
        first.dispose()
        second.dispose()


def _offsets(worker: int) -> list[float]:
    """Wall clocks that disagree (up to an hour behind, a few seconds ahead) and jump."""
    rng = random.Random(worker)
    base = (0.0, -3600.0, 2.0, -30.0)[worker % 4]
    return [base + rng.choice((0.0, 0.0, -60.0, 5.0, -1.0)) for _ in range(ROUNDS)]


def test_processes_never_read_a_time_before_the_stored_mark(database_url: str) -> None:
    """Three OS processes, each a :class:`MonotonicClock` exchanging at every reading with
    the database, wall clocks an hour apart and jumping: each reading is at least the mark
    stored just before it, each process's readings never decrease, and the stored mark
    ends at the latest reading. ASVS 5.0 7.5.3, 6.3.1; PSD2 RTS art. 4(3)(d)."""
    found: list[Any] = run_workers(
        clock_workers.read_clock,
        lambda w: (database_url, _offsets(w)),
        workers=WORKERS,
        expected=WORKERS,
    )
    latest = []
    for readings in found:
        assert len(readings) == ROUNDS
        for before, reading in readings:
            assert before is None or reading >= before
        mine = [reading for _, reading in readings]
        assert mine == sorted(mine)
        latest.append(mine[-1])
    engine = create_engine(database_url)
    try:
        stored = SqlClockMarks(engine).read()
    finally:
        engine.dispose()
    assert stored is not None
    assert stored.at == max(latest)


def test_an_exchange_under_the_write_lock_gives_up_quickly(sqlite_url: str) -> None:
    """SQLite: the thread reading the clock holds the write lock through another connection
    (the rate limits read the clock inside a write transaction): the exchange gives up
    after ``EXCHANGE_WAIT_MS`` instead of the store's 10 s busy timeout, the reading keeps
    the in-memory mark, and the connection's usual busy timeout is put back. ASVS 5.0
    7.5.3, 16.5.2 (fail securely)."""
    engine = create_engine(sqlite_url)
    try:
        marks = SqlClockMarks(engine)
        wall = FixedClock(T0)
        clock = MonotonicClock(wall, marks, interval=timedelta(0))
        assert clock.now() == T0
        wall.advance(timedelta(minutes=1))
        writer = engine.execution_options(**{WRITE_OPTION: True})
        with writer.begin() as holding:
            holding.exec_driver_sql("SELECT 1")
            started = time.monotonic()
            assert clock.now() == T0 + timedelta(minutes=1)
            assert time.monotonic() - started < 2 * EXCHANGE_WAIT_MS / 1000 + 1
        assert marks.read() == Mark(T0, 0)  # not written: tried again at the next reading
        assert clock.now() == T0 + timedelta(minutes=1)
        assert marks.read() == Mark(T0 + timedelta(minutes=1), 0)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        engine.dispose()
