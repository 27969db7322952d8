"""The audit chains of a :class:`~securebox_auth.stores.sql.store.SqlStore` (ADR 0021).

One chain per subscription and the global chain (``''``), each with its head row in
``audit_chains``. A commit opens its transaction with one statement that locks the heads
of the chains its events go to, in the order of their names (``SELECT ... WHERE chain IN
(...) ORDER BY chain FOR UPDATE``, sent with the ``BEGIN``: two commits never lock two heads
in opposite orders), then creates the heads it lacks (``INSERT ... ON CONFLICT DO UPDATE
... RETURNING``, which also locks them); on SQLite ``BEGIN IMMEDIATE`` already serialises
writers. Commits whose
events go to different chains share no row: they do not wait for each other.

:meth:`SqlAuditChains.anchor` seals into the global chain the head of every tenant chain
that moved since its last anchor (``audit_anchored``), under the global head's lock only:
it reads the tenant heads as committed, without locking them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditEvent,
    SealedEvent,
    anchor_event,
    check_chain_name,
    seal,
    tenants_of,
)
from securebox_auth.audit_keys import AuditKeyring
from securebox_auth.errors import ConfigurationError
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.database import Batch, Database, Writer
from securebox_auth.stores.sql.schema import AUDIT_EVENTS
from securebox_auth.stores.sql.writes import insert_sql

__all__ = ["NO_HEAD", "SqlAuditChains", "chains_of"]

NO_HEAD: Final = "the database has no audit head: run `securebox db upgrade`"
_PAGE: Final = 1000
# Only .sequence, .mac, .chain and .key_id of the previous event matter to seal(); this stands in
# for the event itself, which the head row does not repeat.
_HEAD_EVENT: Final = AuditEvent(datetime(2000, 1, 1, tzinfo=UTC), "head", "", "", "")
Head = tuple[int, str, int, str]  # sequence, mac, version, key id of the head event


def _head(row: Sequence[Any]) -> Head:
    return int(row[1]), str(row[2]), int(row[3]), str(row[4])


def chains_of(events: Sequence[AuditEvent]) -> list[str]:
    """The chains ``events`` go to, sorted: every tenant an event concerns, or the global
    chain for an event of none."""
    return sorted({chain for event in events for chain in tenants_of(event) or (GLOBAL,)})


class SqlAuditChains:
    def __init__(self, db: Database, audit_keys: AuditKeyring) -> None:
        self._db = db
        self._key = audit_keys
        self._columns = [c.name for c in AUDIT_EVENTS.columns if c.name != "id"]
        self._insert = insert_sql(db, AUDIT_EVENTS, self._columns)
        self._lock = " FOR UPDATE" if db.postgresql else ""
        self._advance = db.sql(
            "UPDATE audit_chains SET sequence = ?, mac = ?, key_id = ?, version = version + 1 "
            "WHERE chain = ? AND version = ?"
        )
        select = ", ".join(c.name for c in AUDIT_EVENTS.columns)
        self._select = f"SELECT {select} FROM audit_events WHERE "
        self._names = [c.name for c in AUDIT_EVENTS.columns]

    # -- the commit -----------------------------------------------------------------------

    def lock_sql(self, chains: Sequence[str]) -> str:
        """The opening statement of a commit whose events go to ``chains`` (sorted): lock
        their head rows, in that order (``FOR UPDATE`` above a sort locks row after row in
        the sorted order); returns the rows it found."""
        if not chains:
            return "SELECT 1"
        # The names are literals (the opening statement has no parameters): a chain name
        # is '' or a canonical client identifier ([A-Z0-9]{1,64}), checked here.
        names = ", ".join(f"'{check_chain_name(c)}'" for c in chains)
        return (
            "SELECT chain, sequence, mac, version, key_id FROM audit_chains "
            f"WHERE chain IN ({names}) ORDER BY chain{self._lock}"
        )

    def heads(self, tx: Writer, chains: Sequence[str]) -> dict[str, Head]:
        """The locked heads of ``chains``: the rows of :meth:`lock_sql`, and the heads of
        chains that had none, created (and so locked) now, in name order. A first event of
        a subscription is rare; two commits that both create heads may then lock in
        another order than their names': PostgreSQL reports the deadlock, which is a
        :class:`~securebox_auth.errors.ConcurrentUpdate` the services retry."""
        if not chains:
            return {}
        heads = {str(r[0]): _head(r) for r in tx.opened_rows}
        missing = [c for c in chains if c not in heads]
        if GLOBAL in missing:  # made by the migration: the database was never upgraded
            raise ConfigurationError(NO_HEAD)
        if missing:
            values = ", ".join(f"('{check_chain_name(c)}', 0, '{GENESIS}', 0, '')" for c in missing)
            rows = tx.all(
                "INSERT INTO audit_chains (chain, sequence, mac, version, key_id) "
                f"VALUES {values} "
                "ON CONFLICT (chain) DO UPDATE SET version = audit_chains.version "
                "RETURNING chain, sequence, mac, version, key_id"
            )
            heads.update({str(r[0]): _head(r) for r in rows})
        return heads

    def seal(
        self, tx: Writer | Batch, heads: Mapping[str, Head], events: Sequence[AuditEvent]
    ) -> list[SealedEvent]:
        """Seal each event into its chains after their locked heads, insert them (in the
        order of the events), and advance each head with a compare-and-swap on its
        version."""
        previous: dict[str, SealedEvent | None] = {}
        sealed: list[SealedEvent] = []
        for event in events:
            for chain in tenants_of(event) or (GLOBAL,):
                if chain not in previous:
                    sequence, mac, _, key_id = heads[chain]
                    if (sequence == 0) != (mac == GENESIS):
                        raise ConfigurationError("an audit head is inconsistent")
                    previous[chain] = (
                        None
                        if sequence == 0
                        else SealedEvent(sequence, _HEAD_EVENT, "", mac, chain, key_id)
                    )
                sealed_one = seal(self._key, previous[chain], event, chain=chain)
                previous[chain] = sealed_one
                sealed.append(sealed_one)
        rows = [[row[c] for c in self._columns] for row in map(codec.event_row, sealed)]
        tx.many(self._insert, rows)
        for chain, head in previous.items():
            assert head is not None  # every chain here got an event
            version = heads[chain][2]
            params = (head.sequence, head.mac, head.key_id, chain, version)
            tx.expect(self._advance, params, "the audit chain moved since it was read")
        return sealed

    # -- reads ----------------------------------------------------------------------------

    def head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        sql = self._db.sql("SELECT sequence, mac FROM audit_chains WHERE chain = ?")
        rows = self._db.fetch(sql, (check_chain_name(tenant),))
        if not rows:
            if tenant == GLOBAL:
                raise ConfigurationError(NO_HEAD)
            return 0, GENESIS
        return int(rows[0][0]), str(rows[0][1])

    def tenants(self) -> list[str]:
        sql = "SELECT chain FROM audit_chains WHERE chain <> '' AND sequence > 0 ORDER BY chain"
        return [str(r[0]) for r in self._db.fetch(sql)]

    def log(self, tenant: str | None) -> Iterator[SealedEvent]:
        """Chain ``tenant``, as of this call, page by page; ``None``: every event in the
        order recorded (up to the last recorded now)."""
        if tenant is None:
            rows = self._db.fetch("SELECT MAX(id) FROM audit_events")
            last = int(rows[0][0] or 0)
            sql = self._db.sql(f"{self._select}id > ? AND id <= ? ORDER BY id LIMIT {_PAGE}")
            return self._pages(sql, (), "id", last)
        last, _ = self.head(tenant)
        sql = self._db.sql(
            f"{self._select}chain = ? AND sequence > ? AND sequence <= ? "
            f"ORDER BY sequence LIMIT {_PAGE}"
        )
        return self._pages(sql, (tenant,), "sequence", last)

    def _pages(
        self, sql: str, fixed: tuple[Any, ...], key: str, last: int
    ) -> Iterator[SealedEvent]:
        after = 0
        while after < last:
            rows = [
                dict(zip(self._names, r, strict=True))
                for r in self._db.fetch(sql, (*fixed, after, last))
            ]
            for row in rows:
                yield codec.event_from_row(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][key])

    # -- anchoring ------------------------------------------------------------------------

    def anchor(self, at: datetime) -> list[SealedEvent]:
        """Seal into the global chain the head of every tenant chain that moved since its
        last anchor (in the order of their names); return the anchors sealed."""
        moved_sql = self._db.sql(
            "SELECT c.chain, c.sequence, c.mac FROM audit_chains c "
            "LEFT JOIN audit_anchored a ON a.chain = c.chain "
            "WHERE c.chain <> '' AND c.sequence > COALESCE(a.sequence, 0) ORDER BY c.chain"
        )
        mark_sql = self._db.sql(
            "INSERT INTO audit_anchored (chain, sequence) VALUES (?, ?) "
            "ON CONFLICT (chain) DO UPDATE SET sequence = excluded.sequence"
        )
        with self._db.write(self.lock_sql([GLOBAL])) as tx:
            heads = self.heads(tx, [GLOBAL])
            moved = tx.all(moved_sql)
            if not moved:
                return []
            events = [anchor_event(at, str(c), int(s), str(m)) for c, s, m in moved]
            sealed = self.seal(tx, heads, events)
            tx.many(mark_sql, [(str(c), int(s)) for c, s, _ in moved])
            return sealed
