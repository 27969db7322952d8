"""Four processes hammer one limit on one database: exactly the limit is accepted in total,
on SQLite (``BEGIN IMMEDIATE``) and PostgreSQL (the key's row lock). Marked slow: starting
four interpreters takes seconds (``-m "not slow"`` leaves it out)."""

from __future__ import annotations

import multiprocessing
import queue
from typing import Final

import pytest

from tests.server.rate_limits import workers

PROCESSES: Final = 4
HITS: Final = 40  # fewer than LIMIT: no process can take the whole limit alone
LIMIT: Final = 50


@pytest.mark.slow
def test_four_processes_accept_exactly_the_limit(limits_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=workers.hammer, args=(limits_url, f"{LIMIT}/hour", HITS, barrier, results)
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    accepted: list[int] = []
    try:
        for _ in range(PROCESSES):
            accepted.append(results.get(timeout=120))
    except queue.Empty:  # pragma: no cover - a worker died: its exit code says why
        pytest.fail(f"workers stopped: exit codes {[p.exitcode for p in processes]}")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():  # pragma: no cover
                process.kill()
        results.close()
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    assert sum(accepted) == LIMIT, accepted  # 160 tries, 50 accepted, never 51
