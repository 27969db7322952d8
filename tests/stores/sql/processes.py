"""Operating-system processes released together against one database.

Every multi-process race of the SQL tests has the same shape: ``workers`` processes (spawned,
so none inherits a connection) wait on one barrier, each runs the same rounds, and puts one
result per round on a queue. :func:`run_workers` starts them, collects ``expected`` results,
and fails the test with the exit codes if a worker died or a result did not come.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["run_workers"]


def run_workers(
    target: Callable[..., None],
    args: Callable[[int], tuple[Any, ...]],
    *,
    workers: int,
    expected: int,
    timeout: float = 180,
) -> list[Any]:
    """Run ``target(*args(w), barrier, results)`` in ``workers`` spawned processes and return
    the ``expected`` results they put on ``results``, in arrival order."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args(w), barrier, results)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    found: list[Any] = []
    try:
        for _ in range(expected):
            found.append(results.get(timeout=timeout))
    except queue.Empty:  # pragma: no cover - a worker died: its exit code says why
        pytest.fail(f"workers stopped: exit codes {[p.exitcode for p in processes]}")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():  # pragma: no cover
                process.kill()
        results.close()
    assert [p.exitcode for p in processes] == [0] * workers
    return found
