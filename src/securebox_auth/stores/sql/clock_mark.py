"""The shared high-water mark of time in the SQL store (ADR 0042): the
:class:`~securebox_auth.clock.ClockMarks` of :class:`~securebox_auth.shell.
monotonic.MonotonicClock` for processes on one database.

One row of ``clock_mark``. :meth:`SqlClockMarks.advance` is one compare-and-swap
``UPDATE clock_mark SET at_us = :new WHERE id = 1 AND epoch = :epoch AND at_us < :new``,
followed by a read only when it changed nothing (another process is ahead, or an operator
reset it); on SQLite the transaction starts with ``BEGIN IMMEDIATE`` like every write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from securebox_auth.clock import Mark, require_aware
from securebox_auth.stores.sql.engine import WRITE_OPTION, dialect_of
from securebox_auth.stores.sql.schema import CLOCK_MARK

__all__ = ["EXCHANGE_WAIT_MS", "SqlClockMarks", "from_micros", "to_micros"]

_ROW: Final = 1
#: How long :meth:`SqlClockMarks.advance` waits for a lock (SQLite's write lock, the row on
#: PostgreSQL) before giving up: the thread exchanging may itself hold SQLite's write lock
#: through another connection (the rate limits read the clock inside a write transaction);
#: the clock keeps its in-memory mark and tries again a moment later.
EXCHANGE_WAIT_MS: Final = 250
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact: no float)."""
    return (require_aware(moment) - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _busy_timeout(conn: Connection, ms: int) -> int:
    """Set SQLite's busy timeout of ``conn`` on the driver (no transaction is begun);
    return the previous one."""
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        row = cursor.execute("PRAGMA busy_timeout").fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {int(ms)}")
    finally:
        cursor.close()
    return int(row[0]) if row else 0


class SqlClockMarks:
    """The mark in ``clock_mark`` of ``engine``'s database (migrated to revision 0008)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    @staticmethod
    def _read(conn: Connection) -> Mark | None:
        row = conn.execute(
            select(CLOCK_MARK.c.at_us, CLOCK_MARK.c.epoch).where(CLOCK_MARK.c.id == _ROW)
        ).first()
        return None if row is None else Mark(from_micros(row.at_us), row.epoch)

    def read(self) -> Mark | None:
        with self.engine.connect() as conn:
            return self._read(conn)

    def advance(self, to: datetime, epoch: int) -> Mark:
        micros = to_micros(to)
        for _ in range(2):  # a second round only if another process created the row first
            try:
                with self._writer.connect() as conn:
                    return self._advance(conn, micros, epoch)
            except IntegrityError:
                continue
        stored = self.read()
        assert stored is not None  # the row exists: an insert collided with it
        return stored

    def _advance(self, conn: Connection, micros: int, epoch: int) -> Mark:
        sqlite = dialect_of(conn) == "sqlite"
        usual = 0
        if sqlite:  # on the driver, before BEGIN IMMEDIATE: it waits this long at most
            usual = _busy_timeout(conn, EXCHANGE_WAIT_MS)
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {EXCHANGE_WAIT_MS}")
                moved = conn.execute(
                    update(CLOCK_MARK)
                    .where(
                        CLOCK_MARK.c.id == _ROW,
                        CLOCK_MARK.c.epoch == epoch,
                        CLOCK_MARK.c.at_us < micros,
                    )
                    .values(at_us=micros)
                ).rowcount
                if moved:
                    return Mark(from_micros(micros), epoch)
                stored = self._read(conn)
                if stored is not None:
                    return stored
                conn.execute(insert(CLOCK_MARK).values(id=_ROW, at_us=micros, epoch=epoch))
                return Mark(from_micros(micros), epoch)
        finally:
            if sqlite:
                _busy_timeout(conn, usual)

    def reset(self, to: datetime) -> tuple[Mark | None, Mark]:
        with self._writer.begin() as conn:
            return self.reset_on(conn, to)

    def reset_on(self, conn: Connection, to: datetime) -> tuple[Mark | None, Mark]:
        """:meth:`reset` in the caller's write transaction (with its audit event:
        ``SqlStore.commit(..., also=...)``)."""
        micros = to_micros(to)
        before = self._read(conn)
        if before is None:
            after = Mark(from_micros(micros), 0)
            conn.execute(insert(CLOCK_MARK).values(id=_ROW, at_us=micros, epoch=0))
        else:
            after = Mark(from_micros(micros), before.epoch + 1)
            conn.execute(
                update(CLOCK_MARK)
                .where(CLOCK_MARK.c.id == _ROW)
                .values(at_us=micros, epoch=after.epoch)
            )
        return before, after
