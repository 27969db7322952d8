"""Time comes from outside the core.

The core never reads a clock: every function that depends on time takes ``now`` as an
argument. The shell uses :class:`SystemClock`; tests use :class:`FixedClock`. A
:class:`ClockMarks` store shares the high-water mark of
:class:`~securebox_auth.shell.monotonic.MonotonicClock` between processes (ADR 0042).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from securebox_auth.errors import InvalidTime

__all__ = ["Clock", "ClockMarks", "FixedClock", "Mark", "SystemClock", "require_aware"]


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


def require_aware(moment: datetime, name: str = "now") -> datetime:
    """Return ``moment`` converted to UTC, or raise :class:`InvalidTime` if it is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTime(f"{name} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


class SystemClock:
    """The real clock, for the shell."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True)
class FixedClock:
    """A clock that only moves when told to, for tests and scenario runs."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.at = require_aware(self.at, "at")

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at = self.at + delta
        return self.at


@dataclass(frozen=True, slots=True)
class Mark:
    """The shared high-water mark: the latest time any process returned, and the number of
    operator resets (``epoch``) it has been through."""

    at: datetime
    epoch: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware(self.at, "at"))


class ClockMarks(Protocol):
    """Where processes share their high-water mark of time (one value)."""

    def read(self) -> Mark | None:
        """The stored mark, or ``None`` before the first write."""
        ...

    def advance(self, to: datetime, epoch: int) -> Mark:
        """Move the mark up to ``to`` if it is of ``epoch`` and earlier (compare-and-swap;
        never down); create it when there is none. Return the mark as stored afterwards."""
        ...

    def reset(self, to: datetime) -> tuple[Mark | None, Mark]:
        """Operator fix: set the mark to ``to`` whatever it was, in a new epoch; return the
        mark before and after."""
        ...
