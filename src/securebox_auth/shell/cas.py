"""The compare-and-swap retry of the entry point: read, decide, commit; on a lost race,
wait a little (bounded exponential backoff with full jitter) and start again from a fresh
read. With distinct users two requests never touch the same record, so only a real conflict
on one user's records (two tabs of one user) can exhaust the attempts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final, TypeVar

from securebox_auth.errors import ConcurrentUpdate

__all__ = ["MAX_ATTEMPTS", "retry"]

MAX_ATTEMPTS: Final = 16
_BASE: Final = 0.002
_CAP: Final = 0.2
R = TypeVar("R")


def retry(attempt: Callable[[], R], *, attempts: int = MAX_ATTEMPTS) -> R:
    """Run ``attempt`` until it does not raise :class:`ConcurrentUpdate`; the last conflict
    is raised after ``attempts`` tries."""
    for n in range(attempts):
        try:
            return attempt()
        except ConcurrentUpdate:
            if n == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(_CAP, _BASE * 2**n)))  # noqa: S311 - jitter
    raise AssertionError("unreachable")
