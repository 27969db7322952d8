"""The one compare-and-swap retry loop of the shell.

Every service decides on what it read (the pure core) and commits the decision with
compare-and-swap (:meth:`~securebox_auth.stores.protocols.AuthStore.commit`). When another
request changed a record in between, the commit raises
:class:`~securebox_auth.errors.ConcurrentUpdate`; :func:`commit_retrying` then starts again
from a fresh read, after a short randomised pause (bounded exponential backoff with full
jitter), and gives up with :class:`~securebox_auth.errors.ConcurrentUpdate` only after
:attr:`Backoff.attempts` tries. The parameters are recorded in ADR 0017.

An attempt may itself commit (an audit record of a refusal, a counted failure) and raise
:class:`~securebox_auth.errors.ConcurrentUpdate` when that commit lost a race: that starts
the next attempt too. The pause is the only sleeping in the library, and it happens here,
never in the pure core; tests pass their own ``sleep`` and ``draw``.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar, cast

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError
from securebox_auth.stores.protocols import AuthStore, Change

__all__ = ["DEFAULT_BACKOFF", "Attempt", "Backoff", "commit_retrying", "retrying"]

R = TypeVar("R")
#: One read-decide round: ``now`` in, (changes, audit events, result) out.
Attempt = Callable[[datetime], tuple[Sequence[Change], Sequence[AuditEvent], R]]

_JITTER: Final = random.SystemRandom()


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """How often and how patiently a lost compare-and-swap is tried again.

    Before retry ``n`` (1, 2, ...) the loop sleeps a uniformly drawn fraction of
    ``min(cap, base * 2 ** (n - 1))`` seconds ("full jitter"): processes that collided do
    not collide again in step, and the pause stays short while contention is light. The
    first attempt never waits.
    """

    attempts: int = 16
    base: float = 0.002
    cap: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 1000:
            raise ConfigurationError("a retry bound is 1 to 1000 attempts")
        if not (0 <= self.base <= self.cap <= 10):
            raise ConfigurationError("backoff needs 0 <= base <= cap <= 10 seconds")

    def ceiling(self, retry: int) -> float:
        """The longest pause before retry ``retry`` (1-based), in seconds."""
        return min(self.cap, self.base * 2.0 ** min(retry - 1, 60))


DEFAULT_BACKOFF: Final = Backoff()


def retrying(
    run: Callable[[], R],
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = _JITTER.random,
    what: str = "record",
) -> R:
    """Run ``run()`` (a read-decide-commit round that commits by itself) until it does not
    raise :class:`~securebox_auth.errors.ConcurrentUpdate`, waiting before each new round;
    at most ``backoff.attempts`` rounds. ``what`` names the contended record in the error."""
    for tried in range(backoff.attempts):
        if tried:
            sleep(draw() * backoff.ceiling(tried))
        try:
            return run()
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"too much contention on this {what}; try again")


class SharingStore(Protocol):
    """A store whose commit can share its transaction with the caller's own writes (the SQL
    store: ``also`` gets its SQLAlchemy connection)."""

    def commit(
        self,
        changes: Sequence[Change],
        events: Sequence[AuditEvent],
        *,
        also: Callable[[Any], None] | None = None,
    ) -> None: ...


def commit_retrying(
    store: AuthStore,
    clock: Clock,
    attempt: Attempt[R],
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = _JITTER.random,
    what: str = "record",
    also: Callable[[Any], None] | None = None,
) -> R:
    """Run ``attempt(clock.now())`` and commit what it returns; on
    :class:`~securebox_auth.errors.ConcurrentUpdate` (from the commit or the attempt) wait
    and start again, at most ``backoff.attempts`` times. An attempt that returns no change
    and no event commits nothing. ``what`` names the contended record in the final error.

    ``also`` (the SQL store only: :class:`SharingStore`) runs the caller's own writes in the
    same transaction, so that they and the change commit together or not at all."""

    def round_() -> R:
        changes, events, result = attempt(clock.now())
        if also is not None:
            if "also" not in inspect.signature(store.commit).parameters:
                raise ConfigurationError("also= needs a store that shares its commit (SQL)")
            cast(SharingStore, store).commit(changes, events, also=also)
        elif changes or events:
            store.commit(changes, events)
        return result

    return retrying(round_, backoff=backoff, sleep=sleep, draw=draw, what=what)
