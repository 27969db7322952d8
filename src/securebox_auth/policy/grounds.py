"""The grounds of a decision, shared by the login and operation decisions: the sources
cited, the refusal of a blocked principal, and the methods offered to add what is missing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from securebox_auth.lockout.rules import BlockStatus, LockoutState, block_status
from securebox_auth.policy.decision import (
    Deny,
    Fired,
    Reason,
)

_ART4_BLOCK: Final = "PSD2 RTS art. 4(3)(b), 4(4)"
_ART4_IDLE: Final = "PSD2 RTS art. 4(3)(d)"
_ART10_FIRST: Final = "PSD2 RTS art. 10(2)(a); Coop@ccess guide (first access)"
_ART10_RENEW: Final = "PSD2 RTS art. 10(2)(b); Coop@ccess guide (periodic renewal)"
_SCA: Final = "PSD2 art. 4(30); PSD2 RTS art. 9 (independent categories)"
_LINK: Final = "PSD2 RTS art. 5(1)(d), 5(3)(b)"
_ONCE: Final = "PSD2 RTS art. 4(1)"
_STRONG_MASKS: Final = frozenset({3, 5, 6, 7})  # two categories or more
_ZERO: Final = timedelta(0)


@lru_cache(maxsize=256)
def _cite(*sources: str) -> str:
    """Join citations, without repeating one."""
    seen: list[str] = []
    for source in sources:
        for part in source.split(";"):
            item = part.strip()
            ref = item.removeprefix("PSD2 RTS art. ")
            if ref != item and any(ref in s for s in seen if s.startswith("PSD2 RTS")):
                continue  # "PSD2 RTS art. 4(1)" is already in "PSD2 RTS arts. 4(1), 5(1)"
            if item and item not in seen:
                seen.append(item)
    return "; ".join(seen)


def _blocked(lockout: LockoutState | None, now: datetime) -> Deny | None:
    if lockout is None:
        return None
    status = block_status(lockout, now)
    if status is BlockStatus.OPEN:
        return None
    return Deny(
        Reason.LOCKED,
        (
            Fired(
                "lockout.blocked",
                _ART4_BLOCK,
                "the principal is blocked ({status}) after repeated failures",
                (("status", status), ("blocked_until", lockout.blocked_until)),
            ),
        ),
    )


def _offered(
    candidates: tuple[tuple[str, int, bool], ...],
    have: int,
    enrolled: Collection[str] | None,
) -> tuple[str, ...]:
    """The methods that would add a missing category (enrolled ones only), from a rule's
    precomputed ``(name, category mask, dynamic linking)`` candidates."""
    if not have and enrolled is None:
        return _names_of(candidates)
    return tuple(
        name
        for name, mask, _ in candidates
        if mask & ~have and (enrolled is None or name in enrolled)
    )


@lru_cache(maxsize=256)
def _names_of(candidates: tuple[tuple[str, int, bool], ...]) -> tuple[str, ...]:
    return tuple(name for name, _, _ in candidates)


def _no_method(fired: Fired, enrolled: Collection[str] | None) -> Deny:
    return Deny(
        Reason.NO_ENROLLED_METHOD,
        (
            fired,
            Fired(
                "step_up.no_enrolled_method",
                "PSD2 RTS art. 4",
                "no enrolled method can complete strong authentication (enrolled: {enrolled})",
                (("enrolled", tuple(enrolled or ())),),
            ),
        ),
    )
