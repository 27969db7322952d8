"""Worker of ``test_clock_mark.py`` (spawned: importable at module level)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from securebox_auth.clock import FixedClock
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.engine import create_engine


def read_clock(url: str, offsets: list[float], barrier: Any, results: Any) -> None:
    """One process: its wall clock is the real time moved by ``offsets[i]`` seconds at
    reading ``i``; each reading puts ``(mark read just before, reading)`` on ``results``."""
    engine = create_engine(url)
    marks = SqlClockMarks(engine)
    wall = FixedClock(datetime.now(UTC))
    clock = MonotonicClock(wall, marks, interval=timedelta(0))
    barrier.wait()
    found = []
    for offset in offsets:
        wall.at = datetime.now(UTC) + timedelta(seconds=offset)
        before = marks.read()
        found.append((None if before is None else before.at, clock.now()))
    results.put(found)
    engine.dispose()
