"""CPU and statements of the rate-limit calls of one code login (ADR 0026).

    PYTHONPATH=src python3 benchmarks/limits_micro.py [postgresql-url]

A login from an unknown source: ``before_request`` (identification), ``before_answer``
(the code) and ``after_success``; plus a failed answer (``before_answer``,
``after_failure``) from another source. CPU seconds of this process, per login, and
transactions/statements counted with SQLAlchemy events (``acquire_all``, the calls a login
makes, runs SQL text on a driver connection since 6 December 2026: 0 counted there). The
same calls exist on every version since ADR 0026, so the script compares branches
(``PYTHONPATH=<other>/src``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from typing import Any

from sqlalchemy import event

from securebox_server.db import migrate
from securebox_server.rate_limits import Limiter, LoginLimits, SqlRateLimitStorage
from securebox_server.rate_limits.storage import open_rate_limit_engine

LOGINS = 200


def measure(url: str) -> str:
    engine = open_rate_limit_engine(url)
    migrate.upgrade(engine)
    counts = {"statements": 0, "transactions": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    def begin(*_: Any) -> None:
        counts["transactions"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    guard = LoginLimits(Limiter(SqlRateLimitStorage(engine)))
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    for n in range(LOGINS):
        account, source, stranger = f"c/{n}", f"10.0.{n // 250}.{n % 250}", f"10.9.0.{n % 250}"
        guard.before_request(source, account)
        guard.before_answer(source, account)
        guard.after_success(source, account)
        known = guard.before_answer(stranger, account)  # None before ADR 0026's update
        guard.after_failure(stranger, account, *(() if known is None else (known,)))
    cpu = (time.process_time() - start_cpu) / LOGINS * 1000
    wall = (time.perf_counter() - start_wall) / LOGINS * 1000
    engine.dispose()
    return (
        f"{engine.dialect.name}: {cpu:.2f} ms CPU, {wall:.2f} ms wall per login + failed answer;"
        f" through SQLAlchemy {counts['transactions'] / LOGINS:.1f} transactions,"
        f" {counts['statements'] / LOGINS:.1f} statements"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        print(measure(f"sqlite:///{directory}/limits.sqlite3"))
    if len(sys.argv) > 1:
        print(measure(sys.argv[1]))


if __name__ == "__main__":
    main()
