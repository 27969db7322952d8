"""Threads racing on one stored value through compare-and-swap, as a store does it.

:class:`Cell` is the in-memory pattern of the stores (a value and a version; a swap fails
if the version moved). :func:`race` runs the same load-decide-commit loop in several
threads released together, and returns how many of them succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass
class Cell(Generic[S]):
    value: S
    version: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self) -> tuple[S, int]:
        with self._lock:
            return self.value, self.version

    def swap(self, expected: int, new: S) -> bool:
        with self._lock:
            if self.version != expected:
                return False
            self.value, self.version = new, self.version + 1
            return True


def race(threads: int, attempt: Callable[[], bool]) -> int:
    """Run ``attempt`` in ``threads`` threads started at once; count the True results."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = attempt()
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(results) == threads
    return sum(results)


def commit_loop(cell: Cell[S], decide: Callable[[S], tuple[bool, S]]) -> bool:
    """Load, decide, compare-and-swap; on a lost race start again from a fresh read."""
    for _ in range(64):
        state, version = cell.load()
        ok, new = decide(state)
        if cell.swap(version, new):
            return ok
    raise AssertionError("too much contention")
