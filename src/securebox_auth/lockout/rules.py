"""Lockout after failed attempts, as PSD2 RTS article 4 asks (see ADR 0008).

One :class:`LockoutState` per principal holds the block (temporary or permanent), which
refuses every attempt on every path and every factor (RTS 4(3)(b), 4(4)-(5)), and two kinds
of failure series:

* one **per authentication element** (:class:`Element`: the confidential code, the TOTP
  application, the out-of-band channel, recovery codes, the CAP card, the certificate, the
  passkey, the company proof). Only a success *of that element* ends its series and resets
  its escalation: a correct confidential code does not forgive wrong TOTP codes, so knowing
  one element never buys guesses at another;
* one **combined** series (:attr:`LockoutState.failures`, :attr:`LockoutState.temporary_blocks`)
  across all elements, which a success of any element ends: without any success, at most
  ``max_failures`` consecutive failures in total, whatever elements they target.

The rules:

* the ``max_failures``-th consecutive failure of one element, or of the combined series,
  blocks the principal (at most 5 under PSD2);
* the block is temporary (``temporary_block``) unless the failing element, or the combined
  series, already had ``max_temporary_blocks`` temporary blocks: then it is permanent and
  only an administrator lifts it (RTS 4(4)-(5));
* when the last temporary block starts, the result carries an *alert*: the user must be told
  before the block becomes permanent (RTS 4(4));
* with ``temporary_block=None`` every block is permanent (administrator unblock only);
* ``failure_window`` (if set) ends a series after that much time *without a failure* of it;
  escalation (the temporary blocks) never expires. See ADR 0008: a window lets a patient
  attacker pace guesses forever, and ``securebox policy lint`` flags it.
* attempts while blocked are refused without any verification work and do not count.

Everything here is pure: functions of (state, now, rules) returning the new state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.errors import ConfigurationError

__all__ = [
    "BlockStatus",
    "Element",
    "ElementSeries",
    "LockoutAlert",
    "LockoutRules",
    "LockoutState",
    "block_status",
    "record_failure",
    "record_success",
    "unblock",
]


class Element(enum.Enum):
    """An authentication element whose failures form their own series."""

    #: The confidential code: login and code change share it.
    CODE = "code"
    TOTP = "totp"
    OOB = "oob"
    RECOVERY = "recovery"
    CAP = "cap"
    #: A certificate's key (a signed challenge, a smartcard).
    CERTIFICATE = "certificate"
    PASSKEY = "passkey"
    #: The company secret proving a company when an administrator adds it.
    COMPANY_PROOF = "company_proof"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockoutRules:
    """How many failures, and what happens after them."""

    max_failures: int = 5
    #: Optional: a series of failures ends after this much time without a failure of that
    #: series (measured from its *last* failure); escalation never expires. ``None`` (the
    #: default, and what PSD2 policies should use): failures count until a success.
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
class ElementSeries:
    """The failures of one element since its last success."""

    element: Element
    #: Consecutive failures of the current series.
    failures: int = 0
    #: Temporary blocks this element caused since its last success (its escalation).
    temporary_blocks: int = 0
    last_failure_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutState:
    """What is remembered about failures of one principal.

    ``failures`` and ``temporary_blocks`` are the combined series (any success ends it);
    ``elements`` holds the series of each element that failed since its last success, in
    :class:`Element` order, never an empty one.
    """

    failures: int = 0
    temporary_blocks: int = 0
    blocked_until: datetime | None = None
    permanent: bool = False
    last_failure_at: datetime | None = None
    elements: tuple[ElementSeries, ...] = ()

    def series(self, element: Element) -> ElementSeries:
        for item in self.elements:
            if item.element is element:
                return item
        return ElementSeries(element)


_ORDER = {element: index for index, element in enumerate(Element)}


def _with(elements: tuple[ElementSeries, ...], series: ElementSeries) -> tuple[ElementSeries, ...]:
    """``elements`` with ``series`` in its place (dropped when it is empty)."""
    kept = [item for item in elements if item.element is not series.element]
    if series != ElementSeries(series.element):
        kept.append(series)
    return tuple(sorted(kept, key=lambda item: _ORDER[item.element]))


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


def _expired(last: datetime | None, now: datetime, rules: LockoutRules) -> bool:
    window = rules.failure_window
    return window is not None and last is not None and now - last >= window


def record_failure(
    state: LockoutState, now: datetime, rules: LockoutRules, *, element: Element
) -> tuple[LockoutState, LockoutAlert]:
    """Count one failed attempt of ``element``. The caller checks :func:`block_status`
    first: a blocked principal is refused before any verification, and this function leaves
    it unchanged."""
    if block_status(state, now) is not BlockStatus.OPEN:
        return state, LockoutAlert.NONE
    own = state.series(element)
    own_failures = 0 if _expired(own.last_failure_at, now, rules) else own.failures
    own_failures += 1
    combined = 0 if _expired(state.last_failure_at, now, rules) else state.failures
    combined += 1
    if own_failures < rules.max_failures and combined < rules.max_failures:
        series = replace(own, failures=own_failures, last_failure_at=now)
        return (
            replace(
                state,
                failures=combined,
                last_failure_at=now,
                elements=_with(state.elements, series),
            ),
            LockoutAlert.NONE,
        )

    # A block: it ends both series it closes and counts for the escalation of both.
    own_blocks, all_blocks = own.temporary_blocks + 1, state.temporary_blocks + 1
    limit = rules.max_temporary_blocks
    if rules.temporary_block is None or (limit is not None and max(own_blocks, all_blocks) > limit):
        series = replace(own, failures=0, last_failure_at=now)
        return (
            LockoutState(
                failures=0,
                temporary_blocks=state.temporary_blocks,
                blocked_until=None,
                permanent=True,
                last_failure_at=now,
                elements=_with(state.elements, series),
            ),
            LockoutAlert.PERMANENTLY_BLOCKED,
        )
    alert = (
        LockoutAlert.FINAL_WARNING
        if limit is not None and max(own_blocks, all_blocks) == limit
        else LockoutAlert.TEMPORARILY_BLOCKED
    )
    series = replace(own, failures=0, temporary_blocks=own_blocks, last_failure_at=now)
    return (
        LockoutState(
            failures=0,
            temporary_blocks=all_blocks,
            blocked_until=now + rules.temporary_block,
            permanent=False,
            last_failure_at=now,
            elements=_with(state.elements, series),
        ),
        alert,
    )


def record_success(state: LockoutState, *, element: Element) -> LockoutState:
    """A success of ``element`` (the caller checked the principal was open): it ends the
    combined series and ``element``'s own series and escalation, never another element's."""
    elements = tuple(item for item in state.elements if item.element is not element)
    if not elements and not state.permanent:
        return _CLEAN  # the verifiers' hot path: nothing else to keep
    return replace(state, failures=0, temporary_blocks=0, blocked_until=None, elements=elements)


_CLEAN: Final = LockoutState()


def unblock(state: LockoutState) -> LockoutState:
    """Administrator unblock: a clean slate."""
    del state
    return LockoutState()
