"""Driver connections kept aside for single-statement reads, without the pool's work.

A pool check-out and check-in costs 15-35 µs (SQLAlchemy's bookkeeping, its events and the
rollback on return), more than a read of one indexed row on SQLite and a quarter of a
PostgreSQL round trip on loopback. :meth:`.database.Database.fetch` therefore takes a
connection from a short list of idle ones kept checked out of the pool, in autocommit mode,
and puts it back after a successful read (``list.pop`` and ``list.append`` are atomic: two
threads never share one). What keeps it correct:

* **Bounded.** At most :data:`KEEP` idle connections are kept per engine; a read that finds
  none checks one out of the pool, and one that would exceed the bound returns its
  connection to the pool. Writers are never starved of the pool by idle readers.
* **Fresh.** A connection kept longer than :data:`MAX_AGE_S` goes back to the pool, which
  applies ``pool_recycle`` and ``pool_pre_ping`` at its next check-out.
* **Broken connections leave.** A read that fails invalidates its connection; when the
  server closed it (a restart closes them all) the idle ones are closed too and
  :meth:`.database.Database.fetch` retries once on a connection from the pool.
* **Processes.** A child process (``fork``) never uses its parent's connections: the list
  is keyed by process id.
* **Disposal.** ``engine.dispose()`` (and the engine's collection) closes them, as it
  closes the pool's, so that a database can be dropped after its engine is disposed.

An in-memory SQLite database (one shared connection, ``StaticPool``) keeps none.
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.pool import StaticPool

__all__ = ["KEEP", "MAX_AGE_S", "ReadConnections", "read_connections"]

#: Idle read connections kept per engine (and process).
KEEP: Final = 2
#: How long one is kept out of the pool before it goes back (recycling, pre-ping).
MAX_AGE_S: Final = 60.0

_by_engine: weakref.WeakKeyDictionary[Engine, ReadConnections] = weakref.WeakKeyDictionary()


class ReadConnections:
    """The idle read connections of one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)  # the engine's collection releases them
        self._postgresql = engine.dialect.name == "postgresql"
        self._keep = 0 if isinstance(engine.pool, StaticPool) else KEEP
        self._pid = os.getpid()
        #: ``(connection, taken from the pool at)``
        self._idle: list[tuple[Any, float]] = []

    def take(self) -> tuple[Any, float]:
        """A connection in autocommit mode (from the idle ones, else from the pool) and when
        it left the pool; hand both to :meth:`give` after a successful read, or invalidate
        and close the connection."""
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
            self._pid, self._idle = os.getpid(), []
        try:
            return self._idle.pop()
        except IndexError:
            pass
        engine = self._engine()
        if engine is None:  # pragma: no cover - a Database keeps its engine alive
            raise RuntimeError("the engine was disposed of")
        raw = engine.raw_connection()
        if self._postgresql:
            driver: Any = raw.driver_connection
            try:
                driver.autocommit = True
            except Exception:
                raw.invalidate()
                raw.close()
                raise
        return raw, time.monotonic()

    def give(self, raw: Any, taken: float) -> None:
        """Back after a successful read: kept, or returned to the pool."""
        if (
            self._pid == os.getpid()
            and len(self._idle) < self._keep
            and time.monotonic() - taken < MAX_AGE_S
        ):
            self._idle.append((raw, taken))
            return
        _release(raw, self._postgresql)

    def release_all(self) -> None:
        """Close every idle connection (the engine was disposed of, or the server closed
        one of them). In a forked child they are the parent's: only forgotten (closing a
        PostgreSQL connection tells the server, which would end the parent's)."""
        if self._pid != os.getpid():
            self._pid, self._idle = os.getpid(), []
            return
        while True:
            try:
                raw, _ = self._idle.pop()
            except IndexError:
                return
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                raw.invalidate()  # closes the driver's connection
                raw.close()


def _release(raw: Any, postgresql: bool) -> None:
    """Give the pool back a connection in its usual mode (SQLAlchemy's transactions rely on
    it), or drop it."""
    if postgresql:
        driver = raw.driver_connection
        try:
            if driver is None or driver.closed or driver.broken:
                raw.invalidate()
            else:
                driver.autocommit = False
        except Exception:
            raw.invalidate()
    raw.close()


def read_connections(engine: Engine) -> ReadConnections:
    """The read connections of ``engine`` (one set per engine, shared by its stores)."""
    found = _by_engine.get(engine)
    if found is None:
        found = _by_engine.setdefault(engine, ReadConnections(engine))
        if not event.contains(engine, "engine_disposed", _disposed):
            event.listen(engine, "engine_disposed", _disposed)
            weakref.finalize(engine, found.release_all)
    return found


def _disposed(engine: Engine) -> None:
    found = _by_engine.get(engine)
    if found is not None:
        found.release_all()
