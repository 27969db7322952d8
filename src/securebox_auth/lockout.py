"""Lockout after failed attempts, as PSD2 RTS article 4 asks.

One :class:`LockoutState` per principal counts consecutive failures across every factor and
every entry path (login, step-up, code change, recovery, API). The rules:

* after ``max_failures`` consecutive failures (at most 5 under PSD2) the principal is blocked;
* a block is temporary (``temporary_block``) until ``max_temporary_blocks`` temporary blocks
  have happened without a success in between; the next block is then permanent and only an
  administrator lifts it (RTS 4(4)-(5));
* when the last temporary block starts, the result carries an *alert*: the user must be told
  before the block becomes permanent (RTS 4(4));
* with ``temporary_block=None`` every block is permanent (administrator unblock only);
* a success resets everything; attempts while blocked are refused without any hashing work
  and do not count.

Everything here is pure: functions of (state, now, rules) returning the new state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from securebox_auth.errors import ConfigurationError

__all__ = [
    "BlockStatus",
    "LockoutAlert",
    "LockoutRules",
    "LockoutState",
    "block_status",
    "record_failure",
    "record_success",
    "unblock",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockoutRules:
    """How many failures, and what happens after them."""

    max_failures: int = 5
    #: The "given period of time" of RTS 4(3)(b): a series of failures counts only while it
    #: lasts less than this from its first failure; a failure after that starts a new series.
    #: ``None``: failures count until a success, however old.
    failure_window: timedelta | None = None
    #: Duration of a temporary block; ``None`` makes every block permanent.
    temporary_block: timedelta | None = timedelta(minutes=15)
    #: Temporary blocks allowed before the next one is permanent; ``None``: never permanent.
    max_temporary_blocks: int | None = 3

    def __post_init__(self) -> None:
        if not 1 <= self.max_failures <= 100:
            raise ConfigurationError("lockout.max_failures must be between 1 and 100")
        if self.failure_window is not None and self.failure_window <= timedelta(0):
            raise ConfigurationError("lockout.failure_window must be positive")
        if self.temporary_block is not None and self.temporary_block <= timedelta(0):
            raise ConfigurationError("lockout.temporary_block must be positive")
        if self.max_temporary_blocks is not None and self.max_temporary_blocks < 0:
            raise ConfigurationError("lockout.max_temporary_blocks must be >= 0")


@dataclass(frozen=True, slots=True)
class LockoutState:
    """What is remembered about failures of one principal."""

    failures: int = 0
    temporary_blocks: int = 0
    blocked_until: datetime | None = None
    permanent: bool = False
    last_failure_at: datetime | None = None
    #: When the current series of failures started (its first failure).
    series_started_at: datetime | None = None


class BlockStatus(enum.Enum):
    OPEN = "open"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


class LockoutAlert(enum.Enum):
    """What the user (and their administrators) must be told after a failure."""

    NONE = "none"
    TEMPORARILY_BLOCKED = "temporarily_blocked"
    #: This block is the last temporary one: the next series of failures blocks for good.
    FINAL_WARNING = "final_warning"
    PERMANENTLY_BLOCKED = "permanently_blocked"


def block_status(state: LockoutState, now: datetime) -> BlockStatus:
    if state.permanent:
        return BlockStatus.PERMANENT
    if state.blocked_until is not None and now < state.blocked_until:
        return BlockStatus.TEMPORARY
    return BlockStatus.OPEN


def record_failure(
    state: LockoutState, now: datetime, rules: LockoutRules
) -> tuple[LockoutState, LockoutAlert]:
    """Count one failed attempt. The caller checks :func:`block_status` first: a blocked
    principal is refused before any verification, and this function leaves it unchanged."""
    if block_status(state, now) is not BlockStatus.OPEN:
        return state, LockoutAlert.NONE
    failures, started = state.failures, state.series_started_at or now
    if failures == 0 or (
        rules.failure_window is not None and now - started >= rules.failure_window
    ):
        failures, started = 0, now
    failures += 1
    if failures < rules.max_failures:
        return (
            replace(state, failures=failures, last_failure_at=now, series_started_at=started),
            LockoutAlert.NONE,
        )

    blocks = state.temporary_blocks + 1
    temporary_allowed = rules.temporary_block is not None and (
        rules.max_temporary_blocks is None or blocks <= rules.max_temporary_blocks
    )
    if not temporary_allowed or rules.temporary_block is None:
        return (
            LockoutState(
                failures=0,
                temporary_blocks=state.temporary_blocks,
                blocked_until=None,
                permanent=True,
                last_failure_at=now,
            ),
            LockoutAlert.PERMANENTLY_BLOCKED,
        )
    alert = (
        LockoutAlert.FINAL_WARNING
        if rules.max_temporary_blocks is not None and blocks == rules.max_temporary_blocks
        else LockoutAlert.TEMPORARILY_BLOCKED
    )
    return (
        LockoutState(
            failures=0,
            temporary_blocks=blocks,
            blocked_until=now + rules.temporary_block,
            permanent=False,
            last_failure_at=now,
        ),
        alert,
    )


def record_success(state: LockoutState) -> LockoutState:
    """A successful authentication resets the counters (the caller checked it was open)."""
    del state
    return LockoutState()


def unblock(state: LockoutState) -> LockoutState:
    """Administrator unblock: a clean slate."""
    del state
    return LockoutState()
