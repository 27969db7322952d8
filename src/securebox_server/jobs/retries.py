"""What happens to a notification after a send attempt: pure decisions, no clock read.

A temporary failure waits before the next attempt: bounded exponential backoff,
``min(cap, base * 2 ** (attempt - 1))``, of which a random half is drawn ("equal jitter",
the idea of :mod:`securebox_auth.shell.retry` on a scale of minutes: workers that failed
together do not retry in step, and a retry never comes sooner than half the ceiling). After
:attr:`RetryPolicy.attempts` attempts the row is ``dead`` (the dead letter); a permanent
refusal (SMTP ``5xx``, SMS ``4xx``) makes it ``bounced`` at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = ["RetryPolicy", "Status", "after_failure"]


class Status(enum.StrEnum):
    """``box_notifications.status``."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    DROPPED = "dropped"
    BOUNCED = "bounced"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a notification is sent again."""

    attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 100:
            raise ConfigurationError("notification attempts: 1 to 100")
        if not timedelta(0) < self.base <= self.cap <= timedelta(days=7):
            raise ConfigurationError("notification backoff: 0 < base <= cap <= 7 days")

    def ceiling(self, attempt: int) -> timedelta:
        """The longest pause after failed attempt ``attempt`` (1-based)."""
        grown: timedelta = self.base * (2 ** min(attempt - 1, 30))
        return min(self.cap, grown)


def after_failure(
    policy: RetryPolicy, attempts: int, *, permanent: bool, now: datetime, draw: float
) -> tuple[Status, datetime]:
    """The status and next attempt time of a row that failed its ``attempts``-th attempt
    (``draw`` in [0, 1) is the jitter)."""
    if attempts < 1 or not 0.0 <= draw < 1.0:
        raise MalformedInput("attempts >= 1, 0 <= draw < 1")
    if permanent:
        return Status.BOUNCED, now
    if attempts >= policy.attempts:
        return Status.DEAD, now
    ceiling = policy.ceiling(attempts)
    return Status.PENDING, now + ceiling / 2 + ceiling * (draw / 2)
