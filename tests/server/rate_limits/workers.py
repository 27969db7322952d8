"""Process bodies for the multi-process tests (importable by ``spawn``)."""

from __future__ import annotations

from typing import Any

from securebox_auth.stores.sql.engine import create_engine
from securebox_server.rate_limits import Limiter, RateLimited, SqlRateLimitStorage


def hammer(url: str, spec: str, hits: int, barrier: Any, results: Any) -> None:
    """Wait for every process, then hit the limit ``hits`` times; report how many passed."""
    engine = create_engine(url)
    limiter = Limiter(SqlRateLimitStorage(engine), {"shared": spec})
    try:
        barrier.wait(timeout=60)
        accepted = 0
        for _ in range(hits):
            try:
                limiter.hit("shared", "one-key")
            except RateLimited:
                continue
            accepted += 1
        results.put(accepted)
    finally:
        engine.dispose()
