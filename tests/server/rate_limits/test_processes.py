"""Four processes hammer one limit on one database: exactly the limit is accepted in total,
on SQLite (``BEGIN IMMEDIATE``) and PostgreSQL (the key's row lock). Marked slow: starting
four interpreters takes seconds (``-m "not slow"`` leaves it out)."""

from __future__ import annotations

from typing import Final

import pytest

from tests.server.rate_limits import workers
from tests.stores.sql.processes import run_workers

PROCESSES: Final = 4
HITS: Final = 40  # fewer than LIMIT: no process can take the whole limit alone
LIMIT: Final = 50


@pytest.mark.slow
def test_four_processes_accept_exactly_the_limit(limits_url: str) -> None:
    accepted = run_workers(
        workers.hammer,
        lambda _: (limits_url, f"{LIMIT}/hour", HITS),
        workers=PROCESSES,
        expected=PROCESSES,
        timeout=120,
    )
    assert sum(accepted) == LIMIT, accepted  # 160 tries, 50 accepted, never 51
