"""Consuming a single-use step-up grant through the SQL store, on SQLite and PostgreSQL: read
the session, compare-and-swap it without the grant, with its audit event sealed into the
chain, in one transaction (``get_session`` + ``commit``). Two baselines in the same run:

* a bare ``UPDATE ... WHERE version = ?`` + COMMIT with the same durability (the historical
  baseline, target 5x): one round trip and one durable commit;
* the same work written by hand on the raw driver (target 1.5x): read the session row, then
  one transaction that locks a chain head, updates the session row with compare-and-swap,
  inserts an HMAC-sealed event and moves the head (tables of the benchmark's own, so the
  store's schema may change under it).

On PostgreSQL the figures are also given with ``synchronous_commit = off`` on the scratch
database (informational): without the wait for the disk, what remains is the round trips
and the Python of each side.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from backends import LABELS, SQL_KINDS, available, new_url
from harness import Comparison, compare
from sqlalchemy import text

from securebox_auth import AuditEvent, Grant, Principal, open_session, open_sql_store
from securebox_auth.policy.session import with_grant, without_grant
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.protocols import OpenSession, PutSession
from securebox_auth.stores.sql.store import SqlStore

NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PRINCIPAL: Final = Principal.parse("100000001", "05")
AUDIT_KEY: Final = b"\x07" * 32
INNER: Final = 10


class Hand:
    """The consumption written by hand on a raw driver connection."""

    def __init__(self, store: SqlStore) -> None:
        self.postgresql = store.engine.dialect.name == "postgresql"
        self.raw: Any = store.engine.raw_connection()
        driver: Any = self.raw.driver_connection
        if self.postgresql:
            driver.autocommit = True
        self.cursor = self.raw.cursor()
        for statement in (
            "CREATE TABLE IF NOT EXISTS bench_events "
            "(seq INTEGER PRIMARY KEY, body TEXT, mac TEXT)",
            "CREATE TABLE IF NOT EXISTS bench_head (id INTEGER PRIMARY KEY, seq INTEGER, "
            "mac TEXT, version INTEGER)",
            "DELETE FROM bench_events",
            "DELETE FROM bench_head",
            "INSERT INTO bench_head VALUES (1, 0, '', 1)",
        ):
            self._run(statement)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgresql else statement

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        self.cursor.execute(self._sql(statement), params)
        return self.cursor

    def bare(self, key: str) -> None:
        """The historical baseline: one CAS UPDATE, committed."""
        if not self.postgresql:
            self._run("BEGIN IMMEDIATE")
        self._run(
            "UPDATE sessions SET version = version + 1 WHERE id = ? AND version = ?", (key, 1)
        )
        if not self.postgresql:
            self._run("COMMIT")

    def consume(self, key: str, event: bytes) -> None:
        """Read, then one transaction: head locked, session CAS, sealed event, head moved."""
        row = self._run("SELECT state, version FROM sessions WHERE id = ?", (key,)).fetchone()
        state, version = row[0], int(row[1])
        self._run("BEGIN" if self.postgresql else "BEGIN IMMEDIATE")
        read_head = "SELECT seq, mac, version FROM bench_head WHERE id = 1"
        head = self._run(read_head + (" FOR UPDATE" if self.postgresql else "")).fetchone()
        changed = self._run(
            "UPDATE sessions SET state = ?, version = version + 1 WHERE id = ? AND version = ?",
            (state.replace("payment", "paymenT"), key, version),
        )
        assert changed.rowcount == 1
        seq = int(head[0]) + 1
        mac = hmac.new(AUDIT_KEY, head[1].encode() + event, hashlib.sha256).hexdigest()
        self._run("INSERT INTO bench_events VALUES (?, ?, ?)", (seq, event.decode(), mac))
        moved = self._run(
            "UPDATE bench_head SET seq = ?, mac = ?, version = version + 1 "
            "WHERE id = 1 AND version = ?",
            (seq, mac, int(head[2])),
        )
        assert moved.rowcount == 1
        self._run("COMMIT")

    def close(self) -> None:
        self.raw.close()


def _sessions(store: SqlStore, grant: Grant, count: int) -> list[str]:
    session = with_grant(open_session(PRINCIPAL, "web", ["confidential_code"], NOW), grant)
    ids = []
    for _ in range(count):
        opened = OpenSession(session)
        store.commit([opened], [])
        ids.append(opened.session_id)
    return ids


def _rows(kind: str, rounds: int, *, synchronous: bool = True) -> list[Comparison]:
    url = new_url(kind)
    if not synchronous:
        with open_sql_store(url, audit_key=AUDIT_KEY).engine.connect() as conn:
            name = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
            conn.commit()
    store = open_sql_store(url, audit_key=AUDIT_KEY)
    grant = Grant("payment.initiate", PRINCIPAL, None, NOW, NOW + timedelta(minutes=5), ("pwd",))
    calls = (rounds + 1) * INNER + 2
    event = AuditEvent.make(
        NOW, "grant.consumed", actor=PRINCIPAL.key, subject=PRINCIPAL.key, outcome="success"
    )
    hand = Hand(store)
    payload = repr(event).encode()

    def supply(count: int) -> Callable[[], str]:
        pending = iter(_sessions(store, grant, count))
        return lambda: next(pending)

    ours, bare_next, hand_next = supply(2 * calls), supply(calls), supply(calls)

    def consume() -> None:
        session_id = ours()
        found = store.get_session(session_id)
        assert found is not None
        assert found.value.grants
        store.commit(
            [PutSession(session_id, found.version, without_grant(found.value, grant))], [event]
        )

    def bare() -> None:
        hand.bare(session_key(bare_next()))

    def by_hand() -> None:
        hand.consume(session_key(hand_next()), payload)

    tag = LABELS[kind] + ("" if synchronous else ", synchronous_commit off")
    subject = (f"consume a single-use grant [{tag}]", consume)
    rows = [
        compare(
            subject,
            ("bare CAS UPDATE + COMMIT, same durability", bare),
            target=5.0 if synchronous else float("inf"),
            rounds=rounds,
            inner=INNER,
        ),
        compare(
            subject,
            ("the same work by hand (read; lock, CAS, sealed event, head)", by_hand),
            target=1.5 if synchronous else float("inf"),
            rounds=rounds,
            inner=INNER,
        ),
    ]
    hand.close()
    store.engine.dispose()
    return rows


def run(quick: bool = False) -> list[Comparison]:
    rounds = 5 if quick else 11
    results: list[Comparison] = []
    for kind in available(SQL_KINDS):
        results += _rows(kind, rounds)
        if kind == "postgresql":
            results += _rows(kind, rounds, synchronous=False)
    return results
