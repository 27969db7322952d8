"""The clock that never goes back (ADR 0042): :class:`MonotonicClock` over a wall clock that
jumps, alone and with a second instance sharing its mark store.

References: OWASP ASVS 5.0 7.5.3 (a sensitive operation needs a fresh further factor: a
grant's lifetime must not run again), 6.3.1 (a lockout is not undone by moving time), 6.5.5
(a one-time code's lifetime); PSD2 RTS art. 4(3)(d) (the validity of the code is limited).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.clock import FixedClock, Mark
from securebox_auth.errors import ConfigurationError, InvalidTime
from securebox_auth.shell.monotonic import MemoryClockMarks, MonotonicClock

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
#: Wall-clock offsets from T0 in seconds, up to a year either way.
OFFSETS = st.integers(min_value=-366 * 86_400, max_value=366 * 86_400)


class Ticks:
    """A process's monotonic counter, moved by hand."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


@given(st.lists(OFFSETS, min_size=1, max_size=40))
def test_one_clock_never_goes_back(offsets: list[int]) -> None:
    """For any sequence of wall times, the readings are non-decreasing and each is the
    latest wall time seen so far. ASVS 5.0 7.5.3; PSD2 RTS art. 4(3)(d)."""
    wall = FixedClock(T0)
    clock = MonotonicClock(wall)
    readings = []
    for offset in offsets:
        wall.at = T0 + timedelta(seconds=offset)
        readings.append(clock.now())
    assert readings == sorted(readings)
    assert readings[-1] == T0 + timedelta(seconds=max(offsets))


@given(st.lists(st.tuples(st.sampled_from((0, 1)), OFFSETS), min_size=1, max_size=40))
def test_two_clocks_sharing_a_store_never_go_back(steps: list[tuple[int, int]]) -> None:
    """Two processes (two wall clocks that disagree, one store, exchanges at every reading):
    the readings, interleaved in the order they were made, never decrease. ASVS 5.0
    7.5.3; PSD2 RTS art. 4(3)(d)."""
    marks = MemoryClockMarks()
    walls = (FixedClock(T0), FixedClock(T0))
    clocks = [MonotonicClock(w, marks, interval=timedelta(0)) for w in walls]
    readings = []
    for which, offset in steps:
        walls[which].at = T0 + timedelta(seconds=offset)
        readings.append(clocks[which].now())
    assert readings == sorted(readings)
    stored = marks.read()
    assert stored is not None
    assert stored.at == readings[-1]


@given(
    st.lists(st.tuples(st.sampled_from((0, 1)), OFFSETS, st.booleans()), min_size=1, max_size=40)
)
def test_each_clock_is_monotonic_between_exchanges(steps: list[tuple[int, int, bool]]) -> None:
    """With exchanges at most every second (the server's default), each instance's readings
    are non-decreasing, and right after an exchange an instance is at least at the mark
    the other one stored. ASVS 5.0 7.5.3."""
    marks = MemoryClockMarks()
    walls = (FixedClock(T0), FixedClock(T0))
    ticks = (Ticks(), Ticks())
    clocks = [MonotonicClock(w, marks, ticks=t) for w, t in zip(walls, ticks, strict=True)]
    readings: tuple[list[datetime], list[datetime]] = ([], [])
    for which, offset, later in steps:
        if later:  # a second has passed on this process: the next reading exchanges
            ticks[which].value += 1.0
        walls[which].at = T0 + timedelta(seconds=offset)
        before = marks.read()
        now = clocks[which].now()
        readings[which].append(now)
        if later and before is not None:
            assert now >= before.at
    for mine in readings:
        assert mine == sorted(mine)


def test_time_stands_still_until_the_wall_clock_catches_up() -> None:
    """The wall clock goes back an hour: the readings stay at the mark (expiries measured
    on it do not run again), then follow the wall clock once it passes the mark. The test
    fails on a clock that follows the wall clock. ASVS 5.0 7.5.3; PSD2 RTS art. 4(3)(d)."""
    wall = FixedClock(T0)
    clock = MonotonicClock(wall, MemoryClockMarks())
    assert clock.now() == T0
    wall.advance(-timedelta(hours=1))
    assert clock.now() == T0
    wall.advance(timedelta(minutes=59))
    assert clock.now() == T0
    wall.advance(timedelta(minutes=2))
    assert clock.now() == T0 + timedelta(minutes=1)
    assert clock.mark == T0 + timedelta(minutes=1)


def test_a_new_process_starts_at_the_stored_mark() -> None:
    """A process started after another saw a later time (a restart with the host clock set
    back) reads the stored mark first. ASVS 5.0 7.5.3."""
    marks = MemoryClockMarks()
    MonotonicClock(FixedClock(T0 + timedelta(days=1)), marks).now()
    assert MonotonicClock(FixedClock(T0), marks).now() == T0 + timedelta(days=1)


def test_writes_are_at_most_one_per_interval() -> None:
    """Readings between two exchanges do not touch the store (a request's cost stays a
    comparison); the next exchange after the interval stores the latest reading. ASVS
    5.0 7.5.3."""
    calls: list[datetime] = []

    class Counting(MemoryClockMarks):
        def advance(self, to: datetime, epoch: int) -> Mark:
            calls.append(to)
            return super().advance(to, epoch)

    marks, wall, ticks = Counting(), FixedClock(T0), Ticks()
    clock = MonotonicClock(wall, marks, ticks=ticks)
    for _ in range(400):  # two seconds of readings 5 ms apart
        wall.advance(timedelta(milliseconds=5))
        ticks.value += 0.005
        clock.now()
    assert 2 <= len(calls) <= 3
    wall.advance(timedelta(seconds=1))
    ticks.value += 1
    latest = clock.now()
    assert calls[-1] == latest


def test_an_operator_reset_is_adopted_by_running_processes() -> None:
    """A mark set far in the future by mistake (the wall clock was a year ahead): the
    operator resets it; a running process, whose own mark is still a year ahead, adopts
    the reset mark at its next exchange instead of writing its own back. ASVS 5.0 7.5.3
    (an expiry that stands still for a year is an outage: the operator can end it)."""
    marks, wall, ticks = MemoryClockMarks(), FixedClock(T0 + timedelta(days=365)), Ticks()
    clock = MonotonicClock(wall, marks, ticks=ticks)
    assert clock.now() == T0 + timedelta(days=365)
    wall.at = T0
    assert clock.now() == T0 + timedelta(days=365)  # stands still (the design)
    before, after = marks.reset(T0)
    assert before is not None
    assert before.at == T0 + timedelta(days=365)
    assert after == Mark(T0, 1)
    ticks.value += 1
    assert clock.now() == T0
    wall.advance(timedelta(seconds=5))
    ticks.value += 1
    assert clock.now() == T0 + timedelta(seconds=5)
    assert marks.read() == Mark(T0 + timedelta(seconds=5), 1)
    late = MonotonicClock(FixedClock(T0), marks)  # a process that starts after the reset
    assert late.now() == T0 + timedelta(seconds=5)


def test_bad_wall_times_and_intervals_are_refused() -> None:
    """A naive wall time is an error, not a guess; a negative interval is refused. ASVS
    5.0 7.5.3."""
    naive = FixedClock(T0)
    naive.at = datetime(2026, 1, 1)
    with pytest.raises(InvalidTime):
        MonotonicClock(naive).now()
    with pytest.raises(ConfigurationError):
        MonotonicClock(FixedClock(T0), interval=timedelta(seconds=-1))


def test_a_failing_store_leaves_the_in_memory_mark() -> None:
    """The store is down: readings still never go back (this process's own mark), and the
    exchange is tried again after the interval. ASVS 5.0 7.5.3, 16.5.2 (fail securely)."""
    attempts: list[datetime] = []

    class Down(MemoryClockMarks):
        def advance(self, to: datetime, epoch: int) -> Mark:
            attempts.append(to)
            raise OSError("database unreachable")

    wall, ticks = FixedClock(T0), Ticks()
    clock = MonotonicClock(wall, Down(), ticks=ticks)
    assert clock.now() == T0
    wall.advance(-timedelta(hours=1))
    assert clock.now() == T0
    ticks.value += 1
    assert clock.now() == T0
    assert len(attempts) == 2


def test_a_reading_never_waits_for_an_exchange() -> None:
    """While one thread exchanges with a slow store, another thread's reading returns at
    once, and still not before the mark (a thread holding a database connection or lock
    may read the clock: it must not wait for the database). ASVS 5.0 7.5.3."""
    entered, release = threading.Event(), threading.Event()

    class Slow(MemoryClockMarks):
        def advance(self, to: datetime, epoch: int) -> Mark:
            entered.set()
            release.wait(10)
            return super().advance(to, epoch)

    wall = FixedClock(T0)
    clock = MonotonicClock(wall, Slow(), interval=timedelta(0))
    exchanging = threading.Thread(target=clock.now)
    exchanging.start()
    assert entered.wait(10)
    wall.advance(-timedelta(minutes=5))
    started = time.monotonic()
    assert clock.now() == T0
    assert time.monotonic() - started < 1
    release.set()
    exchanging.join(10)
    assert not exchanging.is_alive()


def test_load_adopts_the_stored_mark_without_writing() -> None:
    """A server's start-up adopts the mark before it serves, and writes nothing (a store
    without a mark stays without one). ASVS 5.0 7.5.3."""
    marks = MemoryClockMarks()
    MonotonicClock(FixedClock(T0), marks).load()
    assert marks.read() is None
    marks.advance(T0 + timedelta(hours=1), 0)
    starting = MonotonicClock(FixedClock(T0), marks)
    starting.load()
    assert starting.mark == T0 + timedelta(hours=1)
