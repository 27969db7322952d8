"""What one commit of :class:`~securebox_auth.stores.sql.store.SqlStore` writes: each
change named as a write of one record of one table (its kind, key, expected version and row),
in the fixed order that makes concurrent commits lock records in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Table

from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.protocols import (
    Change,
    DropFactorState,
    EndSession,
    Expect,
    OpenSession,
    PutAccount,
    PutCode,
    PutFactorState,
    PutLockout,
    PutSession,
    PutSubscription,
    RotateSession,
    check_session_transition,
)
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.database import Database, Writer
from securebox_auth.stores.sql.schema import (
    ACCOUNTS,
    CODE_CREDENTIALS,
    FACTOR_STATES,
    INVITATIONS,
    LOCKOUTS,
    SESSIONS,
    SUBSCRIPTION_COMPANIES,
    SUBSCRIPTIONS,
)

if TYPE_CHECKING:
    from securebox_auth.policy.session import Session

__all__ = [
    "ACCOUNT_KIND",
    "CODE_KIND",
    "FACTOR_KIND",
    "KINDS",
    "LOCKOUT_KIND",
    "SESSION_KIND",
    "SUBSCRIPTION_KIND",
    "Kind",
    "Write",
    "insert_sql",
    "plan",
    "principal_key",
    "rewrite_invitations",
]


def rewrite_invitations(db: Database, tx: Writer, sub: Subscription) -> None:
    """Rewrite the tables that index a subscription: its invitations, and its companies
    (only those that changed: a portfolio may hold thousands)."""
    key = (sub.client_id.value,)
    tx.run(db.sql("DELETE FROM subscription_invitations WHERE client_id = ?"), key)
    rows = codec.invitation_rows(sub)
    if rows:
        names = list(rows[0])
        tx.many(insert_sql(db, INVITATIONS, names), [[r[n] for n in names] for r in rows])
    held = {str(r[0]) for r in tx.all(db.sql(_COMPANIES), key)}
    wanted = {r["company"] for r in codec.company_rows(sub)}
    if held - wanted:
        tx.many(db.sql(_DROP_COMPANY), [(c, *key) for c in sorted(held - wanted)])
    if wanted - held:
        add = insert_sql(db, SUBSCRIPTION_COMPANIES, ("company", "client_id"))
        tx.many(add, [(c, *key) for c in sorted(wanted - held)])


_COMPANIES: Final = "SELECT company FROM subscription_companies WHERE client_id = ?"
_DROP_COMPANY: Final = "DELETE FROM subscription_companies WHERE company = ? AND client_id = ?"


def insert_sql(db: Database, table: Table, columns: Sequence[str], tail: str = "") -> str:
    marks = ", ".join("?" * len(columns))
    return db.sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}){tail}")


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of versioned record: its table, key columns, and how a value becomes columns.
    Adding a kind of state is one more of these (plus a table, a codec and a migration)."""

    order: int
    table: Table
    key_columns: tuple[str, ...]
    #: The value's columns (without key and version).
    encode: Callable[[Any], dict[str, Any]]
    #: Called after the row was written, in the same transaction (side tables).
    after_write: Callable[[Database, Writer, Any], None] | None = None


PRINCIPAL_COLUMNS: Final = ("client_id", "user_number")
SUBSCRIPTION_KIND: Final = Kind(
    0, SUBSCRIPTIONS, ("client_id",), codec.subscription_row, rewrite_invitations
)
ACCOUNT_KIND: Final = Kind(1, ACCOUNTS, PRINCIPAL_COLUMNS, codec.account_row)
CODE_KIND: Final = Kind(2, CODE_CREDENTIALS, PRINCIPAL_COLUMNS, codec.code_row)
LOCKOUT_KIND: Final = Kind(3, LOCKOUTS, PRINCIPAL_COLUMNS, codec.lockout_row)
SESSION_KIND: Final = Kind(4, SESSIONS, ("id",), codec.session_row)
FACTOR_KIND: Final = Kind(
    5, FACTOR_STATES, (*PRINCIPAL_COLUMNS, "kind", "item"), codec.factor_state_row
)
KINDS: Final = (SUBSCRIPTION_KIND, ACCOUNT_KIND, CODE_KIND, LOCKOUT_KIND, SESSION_KIND, FACTOR_KIND)


@dataclass(frozen=True, slots=True)
class Write:
    """What one commit asks of one record."""

    kind: Kind
    key: tuple[str, ...]
    expected: int
    #: The value put (``None`` for a session being ended; unused by a guard).
    value: object
    #: False for an :class:`Expect` guard, which only checks the version.
    puts: bool
    #: Sessions: the stored session must be live, and keep the facts of ``keeps`` (all of
    #: them in place; principal, channel and login time for a ``rotation``).
    live: bool = False
    keeps: Session | None = None
    rotation: bool = False
    #: A :class:`DropFactorState`: the row is deleted (only a live one, at ``expected``).
    drops: bool = False


def principal_key(principal: Principal) -> tuple[str, str]:
    return (principal.client_id.value, principal.user_number.value)


def _targets(change: Change) -> list[Write]:
    match change:
        case OpenSession(session=session, session_id=session_id):
            return [Write(SESSION_KIND, (session_key(session_id),), 0, session, True)]
        case RotateSession(session_id, expected, session, new_session_id=new_id):
            old = (session_key(session_id),)
            return [
                Write(SESSION_KIND, old, expected, None, True, True, session, rotation=True),
                Write(SESSION_KIND, (session_key(new_id),), 0, session, True),
            ]
    return [_target(change)]


def _target(change: Change) -> Write:
    match change:
        case PutAccount(principal, expected, account):
            return Write(ACCOUNT_KIND, principal_key(principal), expected, account, True)
        case PutCode(principal, expected, credential):
            return Write(CODE_KIND, principal_key(principal), expected, credential, True)
        case PutLockout(principal, expected, state):
            return Write(LOCKOUT_KIND, principal_key(principal), expected, state, True)
        case PutSubscription(client_id, expected, subscription):
            return Write(SUBSCRIPTION_KIND, (client_id.value,), expected, subscription, True)
        case EndSession(stored_key, expected):
            return Write(SESSION_KIND, (stored_key,), expected, None, True, live=True)
        case PutSession(session_id, expected, session):
            session_row = (session_key(session_id),)
            return Write(
                SESSION_KIND, session_row, expected, session, True, live=True, keeps=session
            )
        case PutFactorState(principal, kind, item, expected, state):
            key = (*principal_key(principal), kind, item)
            return Write(FACTOR_KIND, key, expected, state, True)
        case DropFactorState(principal, kind, item, expected):
            key = (*principal_key(principal), kind, item)
            return Write(FACTOR_KIND, key, expected, None, True, drops=True)
        case Expect("account", principal, expected):
            return Write(ACCOUNT_KIND, principal_key(principal), expected, None, False)
        case Expect("code", principal, expected):
            return Write(CODE_KIND, principal_key(principal), expected, None, False)
    raise MalformedInput(f"unknown change {type(change).__name__}")  # pragma: no cover


def plan(changes: Sequence[Change]) -> list[Write]:
    """One write per record, in a fixed order (table, then key), so concurrent commits take
    row locks in the same order. As in :class:`MemoryStore`, a commit names each record at
    most once (a guard and a write of the same record is a caller's mistake: the write's
    expected version already guards it)."""
    writes: dict[tuple[int, tuple[str, ...]], Write] = {}
    for change in changes:
        for write in _targets(change):
            slot = (write.kind.order, write.key)
            if slot in writes:
                raise MalformedInput("a commit changes each record at most once")
            writes[slot] = write
    return [writes[k] for k in sorted(writes)]


def live_session(
    columns: Sequence[str], write: Write, stale: str
) -> Callable[[Sequence[Any] | None], None]:
    """The commit's check of a session row read in its transaction: still live at the
    expected version, and the change keeps what it must (an in-place change: the
    authentication facts; a rotation: principal, channel and login time)."""

    def live(found: Sequence[Any] | None) -> None:
        if found is None:
            raise ConcurrentUpdate(stale)
        stored = codec.session_from_row(dict(zip(columns, found, strict=True)))
        if stored is None:
            raise ConcurrentUpdate("the session has ended")
        if write.keeps is not None:
            check_session_transition(stored, write.keeps, rotation=write.rotation)

    return live
