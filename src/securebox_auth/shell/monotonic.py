"""A clock that never goes back, for security decisions (ADR 0042).

The core takes ``now`` as an argument and trusts it. When the host clock goes back (an NTP
step, a mis-set clock put right), a lifetime that already ran out would run again: an
expired step-up grant valid again, a lock over before it began. :class:`MonotonicClock`
wraps the wall clock and returns the latest time it has seen (a *high-water mark*): while
the wall clock is behind the mark, time stands still at the mark until the wall clock
catches up, so every expiry is measured on the mark.

Several processes share the mark through a :class:`ClockMarks` store (one row in the SQL
stores: :class:`~securebox_auth.stores.sql.clock_mark.SqlClockMarks`). A process writes
its mark and reads the shared one in one exchange at most every ``interval`` (the cost of
a request is then nothing but a lock and a comparison), and on its first reading. A mark
far in the future by mistake is put right by an operator with :meth:`ClockMarks.reset`,
which also bumps the mark's *epoch*: running processes adopt the reset mark at their next
exchange instead of writing their own back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from securebox_auth.clock import Clock, ClockMarks, Mark, require_aware
from securebox_auth.errors import ConfigurationError
from securebox_auth.stores.write_guard import WriteRefused

__all__ = ["ClockMarks", "Mark", "MemoryClockMarks", "MonotonicClock"]


class MemoryClockMarks:
    """A :class:`ClockMarks` in memory (one process, several clocks; tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mark: Mark | None = None

    def read(self) -> Mark | None:
        with self._lock:
            return self._mark

    def advance(self, to: datetime, epoch: int) -> Mark:
        to = require_aware(to, "to")
        with self._lock:
            mark = self._mark
            if mark is None or (mark.epoch == epoch and mark.at < to):
                self._mark = mark = Mark(to, epoch)
            return mark

    def reset(self, to: datetime) -> tuple[Mark | None, Mark]:
        with self._lock:
            before = self._mark
            self._mark = Mark(to, 0 if before is None else before.epoch + 1)
            return before, self._mark


class MonotonicClock:
    """A :class:`~securebox_auth.clock.Clock` whose readings never decrease.

    ``wall`` is the clock it follows; ``marks`` the shared mark (``None``: this object's
    memory only); ``interval`` how often at most it exchanges with ``marks`` (measured on
    ``ticks``, the process's monotonic counter by default). Thread-safe.
    """

    def __init__(
        self,
        wall: Clock,
        marks: ClockMarks | None = None,
        *,
        interval: timedelta = timedelta(seconds=1),
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < timedelta(0):
            raise ConfigurationError("interval: zero or more")
        self.wall = wall
        self.marks = marks
        self._interval = interval.total_seconds()
        self._ticks = ticks
        self._lock = threading.Lock()
        self._high: datetime | None = None
        self._epoch = 0
        self._exchanged: float | None = None
        self._exchanging = False

    def now(self) -> datetime:
        wall = require_aware(self.wall.now())
        with self._lock:
            if self._high is None or wall > self._high:
                self._high = wall
            high = self._high
            if self.marks is None or self._exchanging:
                return high
            tick = self._ticks()
            if self._exchanged is not None and tick - self._exchanged < self._interval:
                return high
            previous, self._exchanging, self._exchanged = self._exchanged, True, tick
        # The exchange runs without the lock: a reading never waits for the database (a
        # thread that holds a connection or SQLite's write lock may be reading the clock).
        try:
            stored = self._exchange(self.marks, high)
        except WriteRefused:  # not written: the caller's next reading (elsewhere) writes it
            with self._lock:
                self._exchanged = previous
            raise
        finally:
            with self._lock:
                self._exchanging = False
        if stored is None:
            return high
        with self._lock:
            if stored.epoch != self._epoch:  # an operator reset: forget our own mark
                self._epoch, self._high = stored.epoch, max(stored.at, wall)
            elif self._high is None or stored.at > self._high:
                self._high = stored.at
            return self._high

    def load(self) -> None:
        """Adopt the stored mark without writing one (a server's start-up, before it
        serves: no reading of this clock is then earlier than the mark)."""
        if self.marks is None:
            return
        stored = self.marks.read()
        if stored is None:
            return
        with self._lock:
            self._epoch = stored.epoch
            if self._high is None or stored.at > self._high:
                self._high = stored.at

    def _exchange(self, marks: ClockMarks, mine: datetime) -> Mark | None:
        """Write ``mine`` and return the stored mark (``None`` if the store failed: this
        process keeps its own mark and tries again after ``interval``)."""
        epoch = self._epoch
        try:
            stored = marks.advance(mine, epoch)
            if stored.epoch != epoch and mine > stored.at:  # reset below our own mark
                stored = marks.advance(max(self.wall.now(), stored.at), stored.epoch)
        except WriteRefused:  # not a failure: the caller writes elsewhere (write_guard)
            raise
        except Exception:  # any store failure: keep the in-memory mark, try again later
            return None
        return stored

    @property
    def mark(self) -> datetime | None:
        """The latest time returned (``None`` before the first reading)."""
        with self._lock:
            return self._high
