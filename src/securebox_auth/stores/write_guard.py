"""Where a caller forbids writes: :func:`writes_refused`, checked where every write
transaction of the SQL stores begins.

A server that serves a read on its event loop (no thread hop: SQLite's reads are calls
into the process) must not wait there for a write, whose ``BEGIN IMMEDIATE`` may wait for
another process's lock and whose ``COMMIT`` waits for the disk. Inside
``with writes_refused():`` the start of a write transaction (:meth:`~securebox_auth.stores.
sql.database.Database.write`, and every SQLAlchemy transaction begun with the engine's
``WRITE_OPTION``, :meth:`~securebox_auth.stores.sql.database.Database.transaction`
included) raises :class:`WriteRefused` **before** anything is sent to the database, so
the caller can run the same work again where it may wait (a worker thread, ADR 0071).
Writes must begin that way on SQLite anyway (``BEGIN IMMEDIATE``,
:mod:`securebox_auth.stores.sql.engine`). The memory store has no I/O to wait for and
ignores it. A component that tolerates a failed write (the clock's mark) lets this one
through: it is not a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

__all__ = ["WriteRefused", "check_write_allowed", "writes_refused"]

_REFUSED: Final[ContextVar[bool]] = ContextVar("securebox_writes_refused", default=False)


class WriteRefused(Exception):
    """A write transaction was about to begin inside :func:`writes_refused`; nothing was
    written. Not a :class:`~securebox_auth.errors.SecureboxError`: no handler of the
    library's errors may take it for a refusal to show; it belongs to the code that
    refused writes."""


@contextmanager
def writes_refused() -> Iterator[None]:
    """Refuse the start of any write transaction in this context (this thread or task)."""
    token = _REFUSED.set(True)
    try:
        yield
    finally:
        _REFUSED.reset(token)


def check_write_allowed() -> None:
    """Raise :class:`WriteRefused` inside :func:`writes_refused`."""
    if _REFUSED.get():
        raise WriteRefused("a write transaction where writes are refused")
