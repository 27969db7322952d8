"""Database round trips counted at the driver, for tests that pin what a page costs.

* **PostgreSQL**: libpq's own protocol trace (``PQtrace``, through psycopg's ``pgconn.
  trace``) of every connection the engine opens; a round trip is a message the client
  sends that makes the server answer and wait: a simple ``Query`` (``BEGIN``,
  ``ROLLBACK``, ``COMMIT`` …) or the ``Sync`` that ends an extended-protocol statement.
* **SQLite**: every statement the library runs (``set_trace_callback``), ``BEGIN`` and
  ``COMMIT``/``ROLLBACK`` included.

:func:`counting` closes the engine's connections first (the pool's and the reads' kept
aside), so that every connection used afterwards is a traced one.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine, event

__all__ = ["RoundTrips", "counting"]

_PG_TRIP: Final = re.compile(r"^(?:\S+\t)?F\t\d+\t(Query|Sync|Parse)\b(.*)$")
_TRANSACTION: Final = re.compile(r"^\W*(BEGIN|COMMIT|ROLLBACK)", re.IGNORECASE)


@dataclass
class RoundTrips:
    """The round trips (and the statements among them that open or end a transaction)
    seen so far; :meth:`take` returns them and starts again from zero."""

    postgresql: bool
    _files: list[tuple[Any, str]] = field(default_factory=list)
    _sqlite: list[str] = field(default_factory=list)

    def _lines(self) -> list[str]:
        if not self.postgresql:
            found, self._sqlite[:] = list(self._sqlite), []
            return found
        found = []
        for pgconn, path in self._files:
            if pgconn.status != 0:  # closed (CONNECTION_OK is 0)
                continue
            pgconn.untrace()  # flushes
            with open(path, encoding="utf-8", errors="replace") as f:
                parsed = ""  # the statement a Sync ends (its Parse, when it had one)
                for line in f:
                    match = _PG_TRIP.match(line.rstrip("\n"))
                    if match is None:
                        continue
                    kind, text = match.group(1), match.group(2).strip()
                    if kind == "Parse":
                        parsed = text
                    else:
                        found.append(text.strip('"') if kind == "Query" else parsed or kind)
                        parsed = ""
            with open(path, "w", encoding="utf-8"):
                pass
            _trace(pgconn, path)
        return found

    def take(self) -> tuple[int, int]:
        """(round trips, of which transaction control) since the last call."""
        lines = self._lines()
        return len(lines), sum(bool(_TRANSACTION.match(s)) for s in lines)

    def statements(self) -> list[str]:
        """The round trips since the last call, each named by its statement (PostgreSQL:
        ``Sync`` for a prepared statement), for a failing test's message."""
        return self._lines()


def _trace(pgconn: Any, path: str) -> None:
    from psycopg import pq  # noqa: PLC0415

    pgconn.trace(os.open(path, os.O_WRONLY | os.O_APPEND))
    pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)


@contextmanager
def counting(engine: Engine) -> Iterator[RoundTrips]:
    """Count the round trips of every connection ``engine`` opens from now on."""
    trips = RoundTrips(engine.dialect.name == "postgresql")
    folder = tempfile.TemporaryDirectory(prefix="securebox-trips-")

    def connected(dbapi_connection: Any, _record: Any) -> None:
        if trips.postgresql:
            path = os.path.join(folder.name, f"{len(trips._files)}.trace")
            open(path, "w").close()
            pgconn = dbapi_connection.pgconn
            _trace(pgconn, path)
            trips._files.append((pgconn, path))
        else:
            dbapi_connection.set_trace_callback(trips._sqlite.append)

    engine.dispose()
    event.listen(engine, "connect", connected)
    try:
        yield trips
    finally:
        event.remove(engine, "connect", connected)
        engine.dispose()
        folder.cleanup()
