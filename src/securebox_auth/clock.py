"""Time comes from outside the core.

The core never reads a clock: every function that depends on time takes ``now`` as an
argument. The shell uses :class:`SystemClock`; tests use :class:`FixedClock`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from securebox_auth.errors import InvalidTime

__all__ = ["Clock", "FixedClock", "SystemClock", "require_aware"]


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
