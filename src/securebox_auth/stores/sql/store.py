"""A SQL :class:`~securebox_auth.stores.protocols.AuthStore` (SQLite and PostgreSQL).

It behaves exactly like :class:`~securebox_auth.stores.memory.MemoryStore`; the shared store
contract tests run against both. :meth:`SqlStore.commit` is **one** transaction:

1. lock the head rows of the audit chains its events go to (one chain per subscription
   the events concern, or the global chain; ADR 0021), in the order of their names, then
   create the heads it lacks (on SQLite the transaction began with
   ``BEGIN IMMEDIATE`` and already holds the single writer lock): commits of the same
   subscription are serialised, commits of different subscriptions do not wait;
2. for every record the changes name, in a fixed order (table, then key): an ``INSERT ... ON
   CONFLICT DO NOTHING`` when the expected version is 0, else ``UPDATE ... SET ...,
   version = version + 1 WHERE <key> AND version = :expected``; each must touch exactly one
   row. An :class:`~securebox_auth.stores.protocols.Expect` guard is a version check
   (``FOR SHARE`` on PostgreSQL: the row cannot change until the commit ends);
3. seal the events after their chains' heads and insert them; advance each head with a
   compare-and-swap on its version (:mod:`.audit_chains`).

Any mismatch raises :class:`~securebox_auth.errors.ConcurrentUpdate` and rolls everything
back. Nothing is ever read in one transaction and written in another.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Engine, Table

from securebox_auth.audit import GLOBAL, AuditEvent, SealedEvent
from securebox_auth.audit_keys import AuditKeyring, store_keyring
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session_ids import is_session_id, session_key
from securebox_auth.stores.principal_reads import PrincipalReads
from securebox_auth.stores.protocols import (
    Change,
    Standing,
    Versioned,
)
from securebox_auth.stores.session_reads import SessionReads
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.audit_chains import SqlAuditChains, chains_of
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.database import Batch, Database, Writer
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.principal_reads import (
    account_of,
    code_of,
    factor_state_of,
    lockout_of,
    read_together,
)
from securebox_auth.stores.sql.schema import (
    ACCOUNTS,
    FACTOR_STATES,
    SESSIONS,
)
from securebox_auth.stores.sql.session_reads import SessionRead
from securebox_auth.stores.sql.shared_commit import commit_sharing
from securebox_auth.stores.sql.standing import StandingReads
from securebox_auth.stores.sql.statements import Statements, key_where
from securebox_auth.stores.sql.subscription_cache import DEFAULT_SIZE, SubscriptionCache
from securebox_auth.stores.sql.writes import (
    ACCOUNT_KIND,
    CODE_KIND,
    FACTOR_KIND,
    KINDS,
    LOCKOUT_KIND,
    SESSION_KIND,
    Kind,
    Write,
    live_session,
    plan,
    principal_key,
)

if TYPE_CHECKING:
    from securebox_auth.policy.session import Session

__all__ = ["SqlStore"]

_STALE: Final = "the stored state changed since it was read"


class SqlStore:
    """The store Protocol on a SQLAlchemy engine (SQLite or PostgreSQL).

    ``audit_keys`` (a keyring by id, ADR 0059) or ``audit_key`` (one unnamed key) seal the
    audit chains; keep them outside the database (a key provider or the deployment's secret
    store), or a thief of the database could rewrite the chains.
    The schema must exist (``securebox db upgrade``).

    Decoded subscriptions are kept in :attr:`subscriptions` (at most ``subscription_cache``
    of them, by ``(client id, version)``); every read still asks the database for the
    current version, so a change made through another store or process is seen at once
    (:mod:`.subscription_cache`, ADR 0022). Use a new store for a restored database.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        audit_key: bytes | None = None,
        audit_keys: AuditKeyring | None = None,
        subscription_cache: int = DEFAULT_SIZE,
    ) -> None:
        self.audit_keys = store_keyring(audit_key, audit_keys)
        #: The current audit key (the keyring verifies: :attr:`audit_keys`).
        self.audit_key = self.audit_keys.keys[self.audit_keys.current]
        self.engine = engine
        self._db = Database(engine)
        self._reads = {kind.order: self._select_sql(kind.table, key_where(kind)) for kind in KINDS}
        self._statement = Statements(self._db)
        self._chains = SqlAuditChains(self._db, self.audit_keys)
        self._session_columns = [c.name for c in SESSIONS.columns]
        self._session_sql = self._select_sql(SESSIONS, "id = ? AND version = ?")
        self.subscriptions = SubscriptionCache(subscription_cache)
        # The current version, and the document only when it is not the cached version.
        self._subscription_sql = self._db.sql(
            "SELECT version, digital, CASE WHEN version = ? THEN NULL ELSE state END "
            "FROM subscriptions WHERE client_id = ?"
        )
        self._standing = StandingReads(self._db, self.subscriptions)
        self._session_read = SessionRead(self._db)
        self._holding_sql = self._db.sql(
            "SELECT client_id FROM subscription_companies WHERE company = ? ORDER BY client_id"
        )
        self._inviting_sql = self._db.sql(
            "SELECT client_id, version FROM subscriptions WHERE client_id IN "
            "(SELECT client_id FROM subscription_invitations "
            "WHERE invitee_client_id = ? AND invitee_user_number = ?) ORDER BY client_id"
        )

    @classmethod
    def from_url(
        cls, url: str, *, audit_key: bytes | None = None, audit_keys: AuditKeyring | None = None
    ) -> SqlStore:
        return cls(create_engine(url), audit_key=audit_key, audit_keys=audit_keys)

    def clock_marks(self) -> SqlClockMarks:
        """The high-water mark of time the processes on this database share (ADR 0042)."""
        return SqlClockMarks(self.engine)

    # -- reads ----------------------------------------------------------------------------

    def _select_sql(self, table: Table, where: str) -> str:
        """``SELECT <every column> FROM table WHERE ...`` (our own names; values are ``?``)."""
        columns = ", ".join(c.name for c in table.columns)
        return self._db.sql(f"SELECT {columns} FROM {table.name} WHERE {where}")

    def _rows(self, table: Table, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        names = [c.name for c in table.columns]
        return [dict(zip(names, row, strict=True)) for row in self._db.fetch(sql, params)]

    def _one(self, kind: Kind, key: Sequence[str]) -> Mapping[str, Any] | None:
        rows = self._rows(kind.table, self._reads[kind.order], key)
        return rows[0] if rows else None

    def get_account(self, principal: Principal) -> Versioned[Account] | None:
        return account_of(self._one(ACCOUNT_KIND, principal_key(principal)))

    def get_code(self, principal: Principal) -> Versioned[CodeCredential] | None:
        return code_of(self._one(CODE_KIND, principal_key(principal)))

    def get_lockout(self, principal: Principal) -> Versioned[LockoutState]:
        return lockout_of(self._one(LOCKOUT_KIND, principal_key(principal)))

    def read_principal(
        self,
        principal: Principal,
        *,
        lockout: bool = True,
        code: bool = False,
        factors: Sequence[tuple[str, str]] = (),
    ) -> PrincipalReads:
        """:func:`~securebox_auth.stores.principal_reads.read_principal`: the lockout state,
        the account, the code and the factor states in one round trip on PostgreSQL."""
        return read_together(
            self._db, self._reads, principal, lockout=lockout, code=code, factors=factors
        )

    def get_subscription(self, client_id: ClientId) -> Versioned[Subscription] | None:
        key = client_id.value
        cached = self.subscriptions.version(key)
        for _ in range(2):
            rows = self._db.fetch(self._subscription_sql, (cached, key))
            if not rows:
                return None
            version, digital, state = rows[0]
            if state is None:  # the database still holds the cached version
                found = self.subscriptions.get(key, int(version))
                if found is not None:
                    return found
                cached = 0  # replaced by another thread meanwhile: read the document
                continue
            row = {"client_id": key, "digital": digital, "state": state}
            found = Versioned(codec.subscription_from_row(row), int(version))
            self.subscriptions.put(key, found)
            return found
        raise AssertionError("unreachable")  # pragma: no cover

    def get_session(self, session_id: str) -> Versioned[Session] | None:
        if not is_session_id(session_id):
            return None
        row = self._one(SESSION_KIND, (session_key(session_id),))
        if row is None:
            return None
        session = codec.session_from_row(row)
        return None if session is None else Versioned(session, row["version"])

    def read_session(self, session_id: str, *, kind: str, item: str) -> SessionReads:
        """:func:`~securebox_auth.stores.session_reads.read_session` in one statement."""
        return self._session_read.read(session_id, kind, item)

    def get_factor_state(
        self, principal: Principal, kind: str, item: str
    ) -> Versioned[Mapping[str, object]] | None:
        return factor_state_of(self._one(FACTOR_KIND, (*principal_key(principal), kind, item)))

    def factor_states(
        self, principal: Principal, kind: str
    ) -> list[tuple[str, Versioned[Mapping[str, object]]]]:
        sql = self._select_sql(
            FACTOR_STATES,
            "client_id = ? AND user_number = ? AND kind = ? AND state IS NOT NULL ORDER BY item",
        )
        found: list[tuple[str, Versioned[Mapping[str, object]]]] = []
        for row in self._rows(FACTOR_STATES, sql, (*principal_key(principal), kind)):
            state = codec.factor_state_from_row(row)
            if state is not None:
                found.append((str(row["item"]), Versioned(state, row["version"])))
        return found

    def factor_states_of(
        self, principal: Principal, kinds: Collection[str]
    ) -> dict[str, list[tuple[str, Versioned[Mapping[str, object]]]]]:
        states: dict[str, list[tuple[str, Versioned[Mapping[str, object]]]]] = {
            kind: [] for kind in kinds
        }
        if not states:
            return states
        wanted = tuple(states)
        marks = ", ".join("?" * len(wanted))
        sql = self._select_sql(
            FACTOR_STATES,
            f"client_id = ? AND user_number = ? AND kind IN ({marks}) AND state IS NOT NULL "
            "ORDER BY kind, item",
        )
        for row in self._rows(FACTOR_STATES, sql, (*principal_key(principal), *wanted)):
            state = codec.factor_state_from_row(row)
            if state is not None:
                states[str(row["kind"])].append(
                    (str(row["item"]), Versioned(state, row["version"]))
                )
        return states

    def sessions_of(self, principal: Principal) -> list[tuple[str, Versioned[Session]]]:
        sql = self._select_sql(
            SESSIONS, "client_id = ? AND user_number = ? AND ended = ? ORDER BY auth_time, id"
        )
        found: list[tuple[str, Versioned[Session]]] = []
        for row in self._rows(SESSIONS, sql, (*principal_key(principal), False)):
            session = codec.session_from_row(row)
            if session is not None:
                found.append((str(row["id"]), Versioned(session, row["version"])))
        return found

    def accounts_of(self, client_id: ClientId) -> list[Account]:
        sql = self._select_sql(ACCOUNTS, "client_id = ? ORDER BY user_number")
        return [codec.account_from_row(r) for r in self._rows(ACCOUNTS, sql, (client_id.value,))]

    def subscriptions_holding(self, company: Siren) -> list[ClientId]:
        """The subscriptions whose portfolio holds ``company``, by client identifier."""
        rows = self._db.fetch(self._holding_sql, (company.value,))
        return [ClientId(str(r[0])) for r in rows]

    def standing(
        self, principal: Principal, client_id: ClientId, *, inviting: bool = False
    ) -> Standing:
        return self._standing.read(principal, client_id, inviting, self.get_subscription)

    def subscriptions_inviting(self, principal: Principal) -> list[Subscription]:
        found: list[Subscription] = []
        for client_id, version in self._db.fetch(self._inviting_sql, principal_key(principal)):
            sub = self.subscriptions.get(client_id, int(version)) or self.get_subscription(
                ClientId(client_id)
            )
            if sub is not None:
                found.append(sub.value)
        return found

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]:
        """The sealed events of chain ``tenant`` (:data:`~securebox_auth.audit.GLOBAL`: the
        global chain), oldest first, as of this call (events sealed later are not
        included), read page by page. Without a tenant: every event of every chain in the
        order recorded (a view to read, not one chain to verify)."""
        return self._chains.log(tenant)

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        """``(sequence, mac)`` of the last event of chain ``tenant`` (``(0, GENESIS)`` when
        none): pass the MAC as ``verify_chain(..., expected_head=...)`` to detect a
        truncated chain, or sign it (:mod:`securebox_auth.shell.audit_checkpoint`)."""
        return self._chains.head(tenant)

    def audit_tenants(self) -> list[str]:
        """The subscriptions that have an audit chain, sorted."""
        return self._chains.tenants()

    def anchor(self, at: datetime) -> list[SealedEvent]:
        """Seal into the global chain the head of every tenant chain that moved since its
        last anchor; return the anchors sealed (ADR 0021)."""
        return self._chains.anchor(at)

    # -- the commit -----------------------------------------------------------------------

    def commit(
        self,
        changes: Sequence[Change],
        events: Sequence[AuditEvent],
        *,
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """Write ``changes`` and seal ``events``, in one transaction.

        ``also`` (SQL stores only) runs the caller's own writes in that same transaction,
        on a SQLAlchemy connection, after the audit heads are locked and the changes
        written, before the events are sealed: they commit together or not at all (an
        exception raised by ``also`` rolls everything back and propagates).
        """
        writes = plan(changes)
        if not writes and not events and also is None:
            return
        chains = chains_of(events)
        if also is not None:
            commit_sharing(self._db, self._chains, self._apply, writes, events, chains, also)
            return
        with self._db.write(self._chains.lock_sql(chains)) as tx:
            heads = self._chains.heads(tx, chains)
            if any(write.kind.after_write is not None for write in writes):
                for write in writes:  # side tables written from Python: one at a time
                    self._apply(tx, write)
                if events:
                    self._chains.seal(tx, heads, events)
                return
            # The heads are locked: every write and the sealed events go together (one
            # round trip on PostgreSQL), their checks run before the COMMIT.
            with tx.batch() as batch:
                for write in writes:
                    self._apply(batch, write)
                if events:
                    self._chains.seal(batch, heads, events)

    def _apply(self, tx: Writer | Batch, write: Write) -> None:
        kind = write.kind
        if not write.puts:
            expected = write.expected

            def unchanged(found: Sequence[Any] | None) -> None:
                if (0 if found is None else int(found[0])) != expected:
                    raise ConcurrentUpdate(_STALE)

            tx.check(self._statement(kind, "version", ()), write.key, unchanged)
            return
        if write.drops:
            sql = self._statement(kind, "delete", ("state",))
            tx.expect(sql, (*write.key, write.expected), _STALE)
            return
        if write.live:
            verdict = live_session(self._session_columns, write, _STALE)
            tx.check(self._session_sql, (*write.key, write.expected), verdict)
        values = kind.encode(write.value)
        columns = tuple(values)
        if write.expected == 0:
            sql = self._statement(kind, "insert", (*kind.key_columns, *columns, "version"))
            tx.expect(sql, (*write.key, *values.values(), 1), _STALE)
        else:
            sql = self._statement(kind, "update", columns)
            tx.expect(sql, (*values.values(), *write.key, write.expected), _STALE)
        if kind.after_write is not None:
            assert isinstance(tx, Writer)  # commit() does not batch these kinds
            kind.after_write(self._db, tx, write.value)
