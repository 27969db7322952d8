"""Run worker functions in OS processes (``spawn``) released together by a barrier."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from typing import Any

import pytest


def run_together(
    target: Callable[..., None], per_worker: Sequence[tuple[Any, ...]], *, timeout: float = 300
) -> list[Any]:
    """Start ``target(*args, barrier, results)`` once per ``args`` of ``per_worker``; each
    process puts exactly one item on ``results``. Returns the items, once every process has
    exited with status 0."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(per_worker))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for args in per_worker
    ]
    for process in processes:
        process.start()
    found = []
    try:
        for _ in processes:
            found.append(results.get(timeout=timeout))
    except queue.Empty:  # pragma: no cover - a worker died: its exit code says why
        pytest.fail(f"workers stopped: exit codes {[p.exitcode for p in processes]}")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():  # pragma: no cover
                process.kill()
        results.close()
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return found
