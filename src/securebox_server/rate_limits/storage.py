"""A ``limits`` storage over the SQL database: moving windows that hold across processes.

``limits`` ships storages for memory, Redis, Memcached and MongoDB, none for SQL. This one
implements its synchronous :class:`~limits.storage.Storage` interface (fixed-window counters)
and :class:`~limits.storage.MovingWindowSupport` (the strategy the server uses) on the
engine of :func:`securebox_auth.stores.sql.engine.create_engine`, SQLite or PostgreSQL, with
the tables of :mod:`securebox_server.db.schema`.

* **Atomic.** Every hit is one transaction that first upserts its key's row in
  ``rate_limit_windows`` (``INSERT ... ON CONFLICT DO UPDATE``): on PostgreSQL that takes the
  row's lock, so concurrent hits on one key queue behind each other (hits on other keys do
  not); SQLite transactions that write start with ``BEGIN IMMEDIATE`` (the engine's
  ``WRITE_OPTION``), one writer at a time. Then it deletes the key's expired entries, counts
  the rest, and inserts ``amount`` entries only if they fit. :meth:`SqlRateLimitStorage.acquire_all`
  does the same for every layer of every limit of a request at once, all or nothing, in
  SQL text on a driver connection: on PostgreSQL the lock, the deletes and one statement
  that decides and inserts travel in one pipeline (three round trips with ``BEGIN`` and
  ``COMMIT``, against nine through SQLAlchemy, and a third of the CPU).
* **Bounded.** A key never holds more than ``limit`` live entries; expired entries of other
  keys, empty windows and expired counters are swept at most every ``sweep_every`` seconds
  (inside the transaction of the hit that finds the sweep due),
  ``sweep_batch`` rows at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a sweep never
  waits for, nor deadlocks with, a hit).
* **Clock.** Time comes from an injectable :class:`~securebox_auth.clock.Clock` (the tests
  use a fixed one); ``limits`` itself reads no clock for the moving window.
* **Durability traded for speed.** A rate-limit entry is not worth an fsync: on PostgreSQL
  each write transaction runs with ``SET LOCAL synchronous_commit TO OFF`` (a server crash
  may forget the last fraction of a second of hits; the store's own transactions are not
  affected), and :func:`open_rate_limit_engine` gives SQLite a connection pool of its own
  with ``synchronous=NORMAL`` (WAL stays consistent; a power cut may forget the last hits).
  Measured here: a hit costs ~1.6 ms instead of ~9.8 ms on SQLite.
* **Keys** are stored as SHA-256 digests: the tables hold no address or account in clear.

Only the synchronous interface exists: the ``limits.aio`` strategies need an
``limits.aio.storage.Storage`` with coroutine methods, and SQLAlchemy's engine here is
synchronous. An async route calls the limiter in a worker thread
(``anyio.to_thread.run_sync``); FastAPI runs plain ``def`` routes there already.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from securebox_auth.clock import Clock, SystemClock
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.engine import WRITE_OPTION, DatabaseSettings, create_engine
from securebox_server.db.schema import (
    RATE_LIMIT_COUNTERS as COUNTERS,
)
from securebox_server.db.schema import (
    RATE_LIMIT_ENTRIES as ENTRIES,
)
from securebox_server.db.schema import (
    RATE_LIMIT_WINDOWS as WINDOWS,
)

__all__ = ["Layer", "SqlRateLimitStorage", "decide", "open_rate_limit_engine"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def open_rate_limit_engine(settings: DatabaseSettings | str | None = None) -> Engine:
    """An engine for the rate limits alone: the library's engine, and on SQLite its own
    connections with ``synchronous=NORMAL`` (never share it with the store)."""
    engine = create_engine(settings)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _relaxed(dbapi_connection: Any, record: Any) -> None:
            del record
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    return engine


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Layer:
    """One moving window of a batch (:meth:`SqlRateLimitStorage.acquire_all`): the
    ``limits`` key (``item.key_for(name, key)``), its amount and expiry, and whether the
    batch consumes a unit of it (``take``) or only tests that one is free."""

    key: str
    limit: int
    expiry: int
    take: bool
    unless_present: bool = False  # skipped when the batch's ``unless`` key has live entries


def decide(
    layers: Sequence[Layer],
    digests: Sequence[str],
    live: dict[str, tuple[int, float]],
    condition: str | None,
    now: float,
) -> tuple[dict[int, float], bool, list[tuple[str, float, float]]]:
    """The rule of :meth:`SqlRateLimitStorage.acquire_all` on the live entries read (per
    key digest: how many, the oldest's expiry): the refused layers (index: when their oldest
    entry expires), whether ``condition`` has live entries (its ``unless_present`` layers
    are then skipped), and the entries to insert (none when a layer refuses). A layer
    refuses when its live entries plus the units this batch takes of its key (at least one)
    exceed its limit. :data:`_DECIDE_PG` is the same rule in SQL."""
    present = condition is not None and condition in live
    kept = [i for i, layer in enumerate(layers) if not (present and layer.unless_present)]
    taken: dict[str, int] = {}
    for i in kept:
        taken[digests[i]] = taken.get(digests[i], 0) + (1 if layers[i].take else 0)
    refused: dict[int, float] = {}
    for i in kept:
        count, oldest = live.get(digests[i], (0, now))
        if count + max(taken[digests[i]], 1) > layers[i].limit:
            refused[i] = oldest
    entries = [] if refused else [
        (digests[i], now, now + layers[i].expiry) for i in kept if layers[i].take
    ]  # fmt: skip
    return refused, present, entries


def _pg_verdict(row: Sequence[Any] | None) -> tuple[dict[int, float], bool]:
    if row is None:  # pragma: no cover - the statement always answers one row
        raise AssertionError("the decision statement answered no row")
    present, indexes, oldest = row
    return {int(i): float(at) for i, at in zip(indexes, oldest, strict=True)}, bool(present)


#: The first statement of a batch's transaction (it travels with ``BEGIN``): a rate-limit
#: entry is not worth an fsync on PostgreSQL (local to the transaction).
_OPENING: Final = {
    "postgresql": "SELECT set_config('synchronous_commit', 'off', true)",
    "sqlite": "SELECT 1",
}
_LOCK_PG: Final = """INSERT INTO rate_limit_windows (key, expires_at)
SELECT key, %s FROM unnest(%s::text[]) AS k(key) ORDER BY key
ON CONFLICT (key) DO UPDATE
SET expires_at = GREATEST(rate_limit_windows.expires_at, excluded.expires_at)"""
_FORGET_PG: Final = "DELETE FROM rate_limit_entries WHERE key = ANY(%s::text[])"
_EXPIRED_PG: Final = (
    "DELETE FROM rate_limit_entries WHERE key = ANY(%s::text[]) AND expires_at <= %s"
)
#: :func:`decide` in one statement: it runs after the locks were taken (a statement of its
#: own, so it reads the entries committed by the transactions it waited for), inserts the
#: taken entries only if no layer refuses, and answers one row: whether the ``unless`` key
#: has live entries, the refused layers' indexes (0-based) and their oldest expiries.
_DECIDE_PG: Final = """WITH layer AS (
    SELECT l.digest, l.lim, l.take, l.cond, l.expiry, l.idx - 1 AS idx
    FROM unnest(%s::text[], %s::int[], %s::bool[], %s::bool[], %s::float8[])
        WITH ORDINALITY AS l(digest, lim, take, cond, expiry, idx)
), live AS (
    SELECT key, count(*) AS n, min(expires_at) AS oldest
    FROM rate_limit_entries WHERE key = ANY(%s::text[]) GROUP BY key
), flag AS (
    SELECT EXISTS (SELECT 1 FROM live WHERE key = %s::text) AS present
), active AS (
    SELECT layer.* FROM layer CROSS JOIN flag WHERE NOT (flag.present AND layer.cond)
), taken AS (
    SELECT digest, sum(CASE WHEN take THEN 1 ELSE 0 END) AS n FROM active GROUP BY digest
), refused AS (
    SELECT active.idx, COALESCE(live.oldest, %s::float8) AS oldest
    FROM active JOIN taken USING (digest) LEFT JOIN live ON live.key = active.digest
    WHERE COALESCE(live.n, 0) + GREATEST(taken.n, 1) > active.lim
), inserted AS (
    INSERT INTO rate_limit_entries (key, at, expires_at)
    SELECT digest, %s::float8, %s::float8 + expiry FROM active
    WHERE take AND NOT EXISTS (SELECT 1 FROM refused)
    RETURNING 1
)
SELECT flag.present,
    COALESCE((SELECT array_agg(idx ORDER BY idx) FROM refused), '{}'::bigint[]),
    COALESCE((SELECT array_agg(oldest ORDER BY idx) FROM refused), '{}'::float8[])
FROM flag"""
#: SQLite binds a key list as JSON text, read by ``json_each``.
_FORGET_SQLITE: Final = (
    "DELETE FROM rate_limit_entries WHERE key IN (SELECT value FROM json_each(?))"
)
_EXPIRED_SQLITE: Final = (
    "DELETE FROM rate_limit_entries"
    " WHERE key IN (SELECT value FROM json_each(?)) AND expires_at <= ?"
)
_LIVE_SQLITE: Final = (
    "SELECT key, count(*), min(expires_at) FROM rate_limit_entries"
    " WHERE key IN (SELECT value FROM json_each(?)) GROUP BY key"
)
_INSERT_SQLITE: Final = "INSERT INTO rate_limit_entries (key, at, expires_at) VALUES (?, ?, ?)"


class SqlRateLimitStorage(Storage, MovingWindowSupport):
    """Moving windows and fixed-window counters in the server's tables."""

    STORAGE_SCHEME = None  # built from an engine, not from a ``limits`` URI

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        sweep_every: float = 60.0,
        sweep_batch: int = 1000,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sweep_every = sweep_every
        self._sweep_batch = sweep_batch
        self._next_sweep = 0.0
        self._dialect = engine.dialect.name
        self._db = Database(engine)

    # ---- time and SQL helpers -------------------------------------------------------------

    def now(self) -> float:
        """The clock's time, in seconds since the epoch (what ``limits`` expects)."""
        return (self._clock.now() - _EPOCH).total_seconds()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _upsert(self, table: sa.Table) -> Any:
        module: Any = postgresql if self._dialect == "postgresql" else sqlite
        return module.insert(table)

    def _greatest(self, a: Any, b: Any) -> Any:
        return sa.func.greatest(a, b) if self._dialect == "postgresql" else sa.func.max(a, b)

    def _relax(self, conn: Connection) -> None:
        if self._dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def _lock_window(self, conn: Connection, key: str, expires_at: float) -> None:
        """Upsert the key's window row: on PostgreSQL this holds its lock until commit."""
        self._relax(conn)
        insert = self._upsert(WINDOWS).values(key=key, expires_at=expires_at)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[WINDOWS.c.key],
                set_={
                    "expires_at": self._greatest(WINDOWS.c.expires_at, insert.excluded.expires_at)
                },
            )
        )

    # ---- moving window (MovingWindowSupport) ----------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit or amount < 1:
            return amount < 1
        digest, now = _digest(key), self.now()
        with self._writer.begin() as conn:
            self._lock_window(conn, digest, now + expiry)
            conn.execute(
                # expires_at is at + expiry (one window a key): the index's range, s0013
                sa.delete(ENTRIES).where(ENTRIES.c.key == digest, ENTRIES.c.expires_at <= now)
            )
            live = conn.execute(
                sa.select(sa.func.count()).select_from(ENTRIES).where(ENTRIES.c.key == digest)
            ).scalar_one()
            accepted = live + amount <= limit
            if accepted:
                row = {"key": digest, "at": now, "expires_at": now + expiry}
                conn.execute(sa.insert(ENTRIES), [row] * amount)
        self._maybe_sweep(now)
        return accepted

    def acquire_all(
        self, layers: Sequence[Layer], *, forget: Sequence[str] = (), unless: str | None = None
    ) -> tuple[dict[int, float], bool]:
        """Test every layer and consume one unit of each ``take`` layer, all or nothing, in
        one transaction (after first forgetting every entry of the ``forget`` keys). Returns
        the refused layers (their index in ``layers``) with the time their oldest live entry
        expires (an empty mapping: accepted, consumed), and whether the ``unless`` key has live
        entries (then the ``unless_present`` layers are skipped).

        SQL text on a driver connection (:meth:`Database.write`: SQLAlchemy's per-statement
        work cost more than the database here). On PostgreSQL: lock the keys' window rows (one
        upsert, in key order so batches cannot deadlock), delete the forgotten and the expired
        entries, then decide and insert in one statement (:data:`_DECIDE_PG`, which reads the
        entries after the locks were taken), the four sent together in one pipeline: three
        round trips with ``BEGIN`` and ``COMMIT`` instead of nine. On SQLite
        (``BEGIN IMMEDIATE`` already serialises) the same deletes, one grouped count and the
        insert, decided by :func:`decide`. Contention raises
        :class:`~securebox_auth.errors.ConcurrentUpdate`."""
        now = self.now()
        condition = _digest(unless) if unless is not None else None
        digests = [_digest(layer.key) for layer in layers]
        counted = sorted(set(digests) | ({condition} if condition else set()))
        gone = sorted({_digest(key) for key in forget})
        involved = sorted(set(digests) | set(gone))
        decided: list[tuple[dict[int, float], bool]] = []
        with self._db.write(_OPENING[self._dialect]) as writer, writer.batch() as batch:
            if self._dialect == "postgresql":
                if involved:
                    expiry = max((layer.expiry for layer in layers), default=0)
                    batch.run(_LOCK_PG, (now + expiry, involved))
                if gone:
                    batch.run(_FORGET_PG, (gone,))
                if counted:
                    batch.run(_EXPIRED_PG, (counted, now))
                    batch.check(
                        _DECIDE_PG,
                        (
                            digests, [layer.limit for layer in layers],
                            [layer.take for layer in layers],
                            [layer.unless_present for layer in layers],
                            [float(layer.expiry) for layer in layers],
                            counted, condition, now, now, now,
                        ),
                        lambda row: decided.append(_pg_verdict(row)),
                    )  # fmt: skip
            else:
                if gone:
                    writer.run(_FORGET_SQLITE, (json.dumps(gone),))
                if counted:
                    keys = json.dumps(counted)
                    writer.run(_EXPIRED_SQLITE, (keys, now))
                    live = {
                        str(key): (int(count), float(oldest))
                        for key, count, oldest in writer.all(_LIVE_SQLITE, (keys,))
                    }
                    refused, present, entries = decide(layers, digests, live, condition, now)
                    if entries:
                        writer.many(_INSERT_SQLITE, entries)
                    decided.append((refused, present))
        self._maybe_sweep(now)
        return decided[0] if decided else ({}, False)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        del limit
        digest, now = _digest(key), self.now()
        with self._engine.connect() as conn:
            oldest, count = conn.execute(
                sa.select(sa.func.min(ENTRIES.c.at), sa.func.count()).where(
                    ENTRIES.c.key == digest, ENTRIES.c.expires_at > now
                )
            ).one()
        return (float(oldest), int(count)) if count else (now, 0)

    # ---- fixed window (the Storage base interface) ----------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        digest, now = _digest(key), self.now()
        insert = self._upsert(COUNTERS).values(key=digest, count=amount, expires_at=now + expiry)
        expired = COUNTERS.c.expires_at <= now
        update = {
            "count": sa.case((expired, amount), else_=COUNTERS.c.count + amount),
            "expires_at": sa.case((expired, now + expiry), else_=COUNTERS.c.expires_at),
        }
        with self._writer.begin() as conn:
            self._relax(conn)
            count = conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[COUNTERS.c.key], set_=update
                ).returning(COUNTERS.c.count)
            ).scalar_one()
        self._maybe_sweep(now)
        return int(count)

    def _counter(self, key: str) -> tuple[int, float] | None:
        now = self.now()
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(COUNTERS.c.count, COUNTERS.c.expires_at).where(
                    COUNTERS.c.key == _digest(key), COUNTERS.c.expires_at > now
                )
            ).one_or_none()
        return None if row is None else (int(row[0]), float(row[1]))

    def get(self, key: str) -> int:
        counter = self._counter(key)
        return 0 if counter is None else counter[0]

    def get_expiry(self, key: str) -> float:
        counter = self._counter(key)
        return self.now() if counter is None else counter[1]

    # ---- housekeeping ---------------------------------------------------------------------

    def check(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.select(sa.literal(1)))
        except SQLAlchemyError:
            return False
        return True

    def clear(self, key: str) -> None:
        digest = _digest(key)
        with self._writer.begin() as conn:
            self._lock_window(conn, digest, self.now())
            conn.execute(sa.delete(ENTRIES).where(ENTRIES.c.key == digest))
            conn.execute(sa.delete(COUNTERS).where(COUNTERS.c.key == digest))
            conn.execute(sa.delete(WINDOWS).where(WINDOWS.c.key == digest))

    def reset(self) -> int | None:
        with self._writer.begin() as conn:
            self._relax(conn)
            removed = conn.execute(sa.delete(ENTRIES)).rowcount
            removed += conn.execute(sa.delete(COUNTERS)).rowcount
            conn.execute(sa.delete(WINDOWS))
        return int(removed)

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_every
            self.sweep()

    def sweep(self) -> int:
        """Delete up to ``sweep_batch`` expired rows of each table; how many went."""
        now = self.now()
        with self._writer.begin() as conn:
            self._relax(conn)
            return self._sweep(conn, now)

    def _sweep(self, conn: Connection, now: float) -> int:
        """The sweep's statements, inside the caller's transaction."""
        removed = 0
        for table, column in (
            (ENTRIES, ENTRIES.c.id),
            (WINDOWS, WINDOWS.c.key),
            (COUNTERS, COUNTERS.c.key),
        ):
            chosen = sa.select(column).where(table.c.expires_at <= now).limit(self._sweep_batch)
            if self._dialect == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            removed += conn.execute(sa.delete(table).where(column.in_(chosen))).rowcount
        return int(removed)
