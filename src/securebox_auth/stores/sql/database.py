"""How the stores talk to the database: single-statement reads and write transactions.

* :meth:`Database.fetch` runs one read statement on a driver connection in autocommit
  mode: one round trip on PostgreSQL (no ``BEGIN``/``ROLLBACK``), no transaction on SQLite
  (a single statement sees one consistent snapshot either way). The connection comes from
  a few kept aside for reads (:mod:`.read_connections`), without the pool's check-out and
  check-in (15-35 µs a statement). The SQL is text
  written for both databases with ``?`` placeholders (``%s`` on PostgreSQL). Values come back
  as the driver returns them (:func:`.sqltypes.instant` reads SQLite's UTC text). A connection the
  server closed is dropped from the pool and the read is tried once more.
* :meth:`Database.write` is one transaction on a pooled driver connection, with SQL text
  (the stores' hot paths: SQLAlchemy's own per-statement work costs more than the database
  here); :meth:`Database.transaction` is the same as a SQLAlchemy connection (bulk writes).
  Both take the write lock first on SQLite (``BEGIN IMMEDIATE``), and turn contention
  (busy, deadlock, lock or statement timeout) into :class:`~securebox_auth.errors.
  ConcurrentUpdate`, and a full disk (:func:`is_storage_full`) into
  :class:`~securebox_auth.errors.StorageFull` (the transaction rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from securebox_auth.errors import ConcurrentUpdate, StorageFull
from securebox_auth.stores.sql.driver_errors import (
    is_contention,
    is_disconnection,
    is_storage_full,
)
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.read_connections import read_connections
from securebox_auth.stores.write_guard import check_write_allowed

__all__ = ["Batch", "Database", "Writer"]

_FULL: Final = "no room left to store this; try again later"

T = TypeVar("T")


class Writer:
    """Statements of one write transaction on a driver cursor (placeholders already in the
    driver's style). Datetimes are bound as the schema stores them."""

    def __init__(self, cursor: Any, postgresql: bool) -> None:
        self._cursor = cursor
        self._postgresql = postgresql
        #: The first row of the transaction's opening statement, and all of its rows.
        self.opened: Sequence[Any] | None = None
        self.opened_rows: list[Sequence[Any]] = []

    def _bind(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            (v.astimezone(UTC) if self._postgresql else _sqlite_time(v))
            if isinstance(v, datetime)
            else v
            for v in params
        )

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; the number of rows touched."""
        self._cursor.execute(sql, self._bind(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, [self._bind(r) for r in rows])

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        self._cursor.execute(sql, self._bind(params))
        return list(self._cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        self._cursor.execute(sql, self._bind(params))
        row: Sequence[Any] | None = self._cursor.fetchone()
        return row

    def expect(self, sql: str, params: Sequence[Any], message: str) -> None:
        """Execute a write that must touch exactly one row, else :class:`ConcurrentUpdate`."""
        if self.run(sql, params) != 1:
            raise ConcurrentUpdate(message)

    def check(
        self, sql: str, params: Sequence[Any], verdict: Callable[[Sequence[Any] | None], None]
    ) -> None:
        """Read one row and hand it to ``verdict``, which raises if the commit must not go on."""
        verdict(self.one(sql, params))

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Statements whose results only decide whether the transaction may commit: on
        PostgreSQL they travel together in one pipeline (one round trip for all of them,
        psycopg's pipeline mode), and their checks run once every one has answered, before
        the ``COMMIT``; on SQLite (no network) each runs and is checked at once."""
        if not self._postgresql:
            yield Batch(self, None)
            return
        batch = Batch(self, self._cursor.connection)
        try:
            with batch.connection.pipeline():
                yield batch
            batch.settle()
        finally:
            batch.close()


class Batch:
    """The statements of :meth:`Writer.batch`, with the same methods as the writer (the
    checks of a pipelined statement run when the pipeline has answered)."""

    def __init__(self, writer: Writer, connection: Any) -> None:
        self._writer = writer
        #: The psycopg connection in pipeline mode (``None``: run at once, on SQLite).
        self.connection = connection
        self._pending: list[tuple[Any, Callable[[Any], None]]] = []

    def _send(self, sql: str, params: Sequence[Any], then: Callable[[Any], None]) -> None:
        cursor = self.connection.cursor()
        self._pending.append((cursor, then))
        cursor.execute(sql, self._writer._bind(params))

    def expect(self, sql: str, params: Sequence[Any], message: str) -> None:
        if self.connection is None:
            self._writer.expect(sql, params, message)
            return

        def touched_one(cursor: Any) -> None:
            if cursor.rowcount != 1:
                raise ConcurrentUpdate(message)

        self._send(sql, params, touched_one)

    def check(
        self, sql: str, params: Sequence[Any], verdict: Callable[[Sequence[Any] | None], None]
    ) -> None:
        if self.connection is None:
            self._writer.check(sql, params, verdict)
        else:
            self._send(sql, params, lambda cursor: verdict(cursor.fetchone()))

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._writer.many(sql, rows)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement whose result nothing reads (a lock, a delete): sent with the others
        (an error still aborts the transaction)."""
        if self.connection is None:
            self._writer.run(sql, params)
        else:
            self._send(sql, params, lambda cursor: None)

    def settle(self) -> None:
        """Every statement answered: run the checks, in the order the statements were sent."""
        for cursor, then in self._pending:
            then(cursor)

    def close(self) -> None:
        for cursor, _ in self._pending:
            cursor.close()
        self._pending.clear()


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Database:
    """An engine, with the two ways the stores use it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        # preserve_rowcount: SQLAlchemy reports INSERT row counts only when asked.
        self._writer = engine.execution_options(**{WRITE_OPTION: True}, preserve_rowcount=True)
        self._reads = read_connections(engine)

    def instant(self, moment: datetime) -> Any:
        """``moment`` as :meth:`fetch` binds it to compare with a stored instant (SQLite
        keeps UTC text)."""
        return moment.astimezone(UTC) if self.postgresql else _sqlite_time(moment)

    def sql(self, text: str) -> str:
        """``text`` with the driver's placeholders (written with ``?``)."""
        return text.replace("?", "%s") if self.postgresql else text

    def fetch(
        self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None
    ) -> list[Sequence[Any]]:
        """All rows of one read statement (``sql`` already in the driver's placeholders).

        ``prepare`` (PostgreSQL): ``None`` lets psycopg prepare a statement after a few
        executions, so the server reuses its plan; ``False`` plans it every time with the
        actual values (for statements whose best plan depends on them).
        """

        def one(raw: Any) -> list[Sequence[Any]]:
            cursor: Any = raw.cursor()
            try:
                if self.postgresql:
                    cursor.execute(sql, tuple(params), prepare=prepare)
                else:
                    cursor.execute(sql, tuple(params))
                return list(cursor.fetchall())
            finally:
                cursor.close()

        return self._reading(one)

    def fetch_many(
        self, statements: Sequence[tuple[str, Sequence[Any]]]
    ) -> list[list[Sequence[Any]]]:
        """The rows of several independent read statements, in their order: on PostgreSQL
        sent together in one pipeline (one round trip), each statement its own snapshot as
        with :meth:`fetch`; on SQLite one after the other."""
        if not self.postgresql:
            return [self.fetch(sql, params) for sql, params in statements]

        def together(raw: Any) -> list[list[Sequence[Any]]]:
            driver: Any = raw.driver_connection
            cursors: list[Any] = []
            try:
                with driver.pipeline():
                    for sql, params in statements:
                        cursor = driver.cursor()
                        cursors.append(cursor)
                        cursor.execute(sql, tuple(params))
                return [list(cursor.fetchall()) for cursor in cursors]
            finally:
                for cursor in cursors:
                    cursor.close()

        return self._reading(together)

    def read_with(self, work: Callable[[Any], T]) -> T:
        """``work`` on a pooled read connection (the DBAPI one, autocommit), given back
        afterwards: for reads the SQL statements cannot express (SQLite's incremental blob
        I/O)."""
        return self._reading(work)

    def _reading(self, work: Callable[[Any], T]) -> T:
        """``work`` on a read connection (autocommit); a connection the server closed is
        dropped and ``work`` tried once more on a fresh one."""
        for attempt in (1, 2):
            raw, taken = self._reads.take()
            try:
                result = work(raw)
            except Exception as error:
                operational = self.engine.dialect.dbapi.OperationalError  # type: ignore[union-attr]
                broken = self.postgresql and is_disconnection(
                    error, raw.driver_connection, operational
                )
                if broken:
                    # The server closed it, and a restart closes them all: the pool
                    # replaces every connection as old as this one (what SQLAlchemy does on
                    # a disconnection), the idle read connections are closed, and the read
                    # is tried once more on a fresh connection.
                    self.engine.pool._invalidate(raw, error)  # this one as well
                    self._reads.release_all()
                else:
                    raw.invalidate()  # unknown state: never reused
                raw.close()
                if broken and attempt == 1:
                    continue
                raise
            self._reads.give(raw, taken)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def write(self, opening: str) -> Iterator[Writer]:
        """One write transaction on a driver connection, committed when the block ends and
        rolled back if it raises. ``opening`` is its first statement (without parameters;
        its rows are :attr:`Writer.opened_rows`, the first :attr:`Writer.opened`): on
        PostgreSQL it travels with the ``BEGIN`` in one round trip. A connection the server
        closed is replaced before anything is written; a failure later is the caller's to
        handle."""
        check_write_allowed()
        try:
            raw, cursor, rows = self._begin(opening)
            try:
                writer = Writer(cursor, self.postgresql)
                writer.opened = rows[0] if rows else None
                writer.opened_rows = rows
                yield writer
                cursor.execute("COMMIT")
                if self.postgresql and cursor.statusmessage != "COMMIT":
                    raise ConcurrentUpdate("the transaction was rolled back")
            except BaseException:
                self._abandon(raw, cursor)
                raise
            finally:
                cursor.close()
                if self.postgresql:
                    self._restore(raw)
                raw.close()
        except Exception as error:
            if is_storage_full(error):
                raise StorageFull(_FULL) from None
            if is_contention(error):
                raise ConcurrentUpdate("the database is busy; try again") from None
            raise

    def _begin(self, opening: str) -> tuple[Any, Any, list[Sequence[Any]]]:
        for attempt in (1, 2):
            raw: Any = self.engine.raw_connection()
            cursor: Any = raw.cursor()
            try:
                if self.postgresql:
                    # Explicit BEGIN/COMMIT: psycopg would send its own BEGIN separately.
                    raw.driver_connection.autocommit = True
                    cursor.execute(f"BEGIN; {opening}")
                    cursor.nextset()
                else:
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute(opening)
                return raw, cursor, list(cursor.fetchall())
            except Exception:
                broken = self.postgresql and raw.driver_connection.broken
                self._abandon(raw, cursor)
                cursor.close()
                if self.postgresql:
                    self._restore(raw)
                raw.close()
                if broken and attempt == 1:
                    continue  # nothing was written: start again on a fresh connection
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _restore(raw: Any) -> None:
        """Give the pool back a connection in its usual mode (SQLAlchemy's transactions
        rely on it), or drop it."""
        driver = raw.driver_connection
        if driver is None or driver.closed or driver.broken:
            raw.invalidate()
            return
        try:
            driver.autocommit = False
        except Exception:
            raw.invalidate()

    def _abandon(self, raw: Any, cursor: Any) -> None:
        """Roll back after an error; a connection in an unknown state leaves the pool."""
        driver = raw.driver_connection
        try:
            if self.postgresql:
                if driver.info.transaction_status != 0:  # not idle
                    cursor.execute("ROLLBACK")
            elif driver.in_transaction:
                cursor.execute("ROLLBACK")
        except Exception:
            raw.invalidate()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction as a SQLAlchemy connection (bulk writes); contention raises
        :class:`ConcurrentUpdate`."""
        try:
            with self._writer.connect() as conn, conn.begin():
                yield conn
        except Exception as error:
            # A driver error raised by a statement run on the raw cursor is not wrapped.
            if is_storage_full(error):
                raise StorageFull(_FULL) from None
            if isinstance(error, DBAPIError) and is_contention(error):
                raise ConcurrentUpdate("the database is busy; try again") from None
            raise
