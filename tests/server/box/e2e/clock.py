"""The end-to-end tests' settable clock: the real time plus an offset kept in a file.

The test process uses :class:`ShiftedClock`; the processes it starts (the server and its
workers, the jobs worker) get the same time through ``clockhook/sitecustomize.py``, which
calls :func:`install` to make their ``SystemClock`` a :class:`ShiftedClock` on the same file.
``advance`` writes the file: every process sees the new time on its next ``now()``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from securebox_auth import clock as clocks

__all__ = ["CLOCK_ENV", "HOOK", "ShiftedClock", "install"]

CLOCK_ENV = "SECUREBOX_TEST_CLOCK_FILE"
#: The folder to put first on a process's ``PYTHONPATH`` (with the repository's root).
HOOK = Path(__file__).resolve().parent / "clockhook"


class ShiftedClock:
    """Real time plus the offset (seconds, a float) in ``path``; starts at 0."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.write_text("0", encoding="ascii")

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(self.path.read_text(encoding="ascii") or 0))
        except (OSError, ValueError):  # being replaced: the rename below makes this rare
            return timedelta(seconds=float(self.path.read_text(encoding="ascii") or 0))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def advance(self, delta: timedelta) -> datetime:
        total = self.offset() + delta
        scratch = self.path.with_suffix(".new")
        scratch.write_text(repr(total.total_seconds()), encoding="ascii")
        scratch.replace(self.path)  # atomic: a reader sees the old or the new offset
        return self.now()


def install(path: str) -> None:
    """Make every ``SystemClock`` of this interpreter tell the shifted time of ``path``."""
    shifted = ShiftedClock(path)

    def now(self: clocks.SystemClock) -> datetime:
        del self
        return shifted.now()

    clocks.SystemClock.now = now  # type: ignore[method-assign]
