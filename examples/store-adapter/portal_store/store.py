"""``PortalStore``: securebox's :class:`~securebox_auth.stores.protocols.AuthStore` whose
accounts and confidential codes live in the portal's existing tables.

* Accounts are rows of ``portal_users`` and codes rows of ``portal_credentials`` (type
  :data:`~portal_store.schema.CODE_TYPE`), read and written with the portal's column names
  and words (``profile``/``state``), with a compare-and-swap on their ``sb_version``.
* Everything securebox keeps that the portal has no table for (lockouts, sessions, factor
  states, subscriptions, the audit chains) stays in securebox's own tables of the same
  database, through the library's :class:`~securebox_auth.stores.sql.store.SqlStore`.
* One commit is still **one** transaction: the library's writes and the audit seal, and the
  adapter's statements run through ``SqlStore.commit(..., also=...)``, which hands them the
  same connection. A stale version anywhere rolls back everything.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from securebox_auth.audit import GLOBAL, AuditEvent, SealedEvent
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.stores.protocols import (
    Change,
    Expect,
    PutAccount,
    PutCode,
    Standing,
    Versioned,
)
from securebox_auth.stores.sql.store import SqlStore
from sqlalchemy import Connection, Engine, Table, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal_store.schema import CODE_TYPE, CREDENTIALS, USERS

if TYPE_CHECKING:
    from securebox_auth.policy.session import Session

__all__ = ["PROFILES", "STATES", "PortalStore"]

#: securebox's roles in the portal's words (the ``profile`` column).
PROFILES: Final = {
    Role.PRINCIPAL_USER: "owner",
    Role.ADMINISTRATOR: "admin",
    Role.ACCESS_MANAGER: "access_manager",
    Role.USER: "standard",
    Role.THIRD_PARTY: "external",
}
#: securebox's account statuses in the portal's words (the ``state`` column).
STATES: Final = {AccountStatus.ACTIVE: "open", AccountStatus.DISABLED: "closed"}
_ROLES: Final = {word: role for role, word in PROFILES.items()}
_STATUSES: Final = {word: status for status, word in STATES.items()}
_STALE: Final = "the stored state changed since it was read"


def _login(principal: Principal) -> dict[str, str]:
    return {
        "company_number": principal.client_id.value,
        "user_suffix": principal.user_number.value,
    }


def _account_values(account: Account) -> dict[str, Any]:
    return {
        "profile": PROFILES[account.role],
        "state": STATES[account.status],
        "opened_at": account.created_at,
    }


def _code_values(credential: CodeCredential) -> dict[str, Any]:
    return {
        "secret_hash": credential.hash,
        "changed_at": credential.set_at,
        "reset_required": credential.must_change,
        "valid_until": credential.expires_at,
        "previous_hashes": json.dumps(list(credential.history)),
    }


def _account(row: Mapping[str, Any]) -> Account:
    try:
        principal = Principal.parse(row["company_number"], row["user_suffix"])
        role, status = _ROLES[row["profile"]], _STATUSES[row["state"]]
    except KeyError as unknown:
        raise MalformedInput(f"portal_users holds an unknown value {unknown}") from None
    return Account(principal, role, row["opened_at"], status)


def _code(row: Mapping[str, Any]) -> CodeCredential:
    history = json.loads(row["previous_hashes"])
    if not (isinstance(history, list) and all(isinstance(h, str) for h in history)):
        raise MalformedInput("portal_credentials.previous_hashes is not a list of hashes")
    return CodeCredential(
        hash=row["secret_hash"],
        set_at=row["changed_at"],
        must_change=bool(row["reset_required"]),
        expires_at=row["valid_until"],
        history=tuple(history),
    )


class PortalStore:
    """The store Protocol over the portal's ``portal_users`` and ``portal_credentials``
    (accounts and codes) and securebox's own tables for the rest, on one engine.

    The database needs the portal's tables with their ``sb_version`` column
    (:func:`~portal_store.schema.add_version_columns`) and securebox's schema
    (``securebox db upgrade``; its ``accounts`` and ``code_credentials`` tables stay
    empty). ``audit_key`` seals the audit chains (keep it outside the database).
    """

    def __init__(self, engine: Engine, *, audit_key: bytes) -> None:
        self.engine = engine
        self.library = SqlStore(engine, audit_key=audit_key)
        self._postgresql = engine.dialect.name == "postgresql"

    # -- the portal's tables ---------------------------------------------------------------

    def _row(self, table: Table, principal: Principal, *extra: Any) -> dict[str, Any] | None:
        where = and_(
            table.c.company_number == principal.client_id.value,
            table.c.user_suffix == principal.user_number.value,
            *extra,
        )
        with self.engine.connect() as conn:
            found = conn.execute(select(table).where(where)).mappings().first()
        return None if found is None else dict(found)

    def get_account(self, principal: Principal) -> Versioned[Account] | None:
        row = self._row(USERS, principal)
        return None if row is None else Versioned(_account(row), row["sb_version"])

    def get_code(self, principal: Principal) -> Versioned[CodeCredential] | None:
        row = self._row(CREDENTIALS, principal, CREDENTIALS.c.credential_type == CODE_TYPE)
        return None if row is None else Versioned(_code(row), row["sb_version"])

    def accounts_of(self, client_id: ClientId) -> list[Account]:
        query = (
            select(USERS)
            .where(USERS.c.company_number == client_id.value)
            .order_by(USERS.c.user_suffix)
        )
        with self.engine.connect() as conn:
            return [_account(dict(row)) for row in conn.execute(query).mappings()]

    def standing(
        self, principal: Principal, client_id: ClientId, *, inviting: bool = False
    ) -> Standing:
        """The account from the portal's table, the subscriptions from securebox's (two
        reads where the library's store makes one)."""
        others: tuple[Subscription, ...] = ()
        if inviting:
            found = self.library.subscriptions_inviting(principal)
            others = tuple(s for s in found if s.client_id != client_id)
        return Standing(
            self.get_account(principal), self.library.get_subscription(client_id), others
        )

    # -- securebox's tables ----------------------------------------------------------------

    def get_lockout(self, principal: Principal) -> Versioned[LockoutState]:
        return self.library.get_lockout(principal)

    def get_subscription(self, client_id: ClientId) -> Versioned[Subscription] | None:
        return self.library.get_subscription(client_id)

    def get_session(self, session_id: str) -> Versioned[Session] | None:
        return self.library.get_session(session_id)

    def get_factor_state(
        self, principal: Principal, kind: str, item: str
    ) -> Versioned[Mapping[str, object]] | None:
        return self.library.get_factor_state(principal, kind, item)

    def factor_states(
        self, principal: Principal, kind: str
    ) -> list[tuple[str, Versioned[Mapping[str, object]]]]:
        return self.library.factor_states(principal, kind)

    def factor_states_of(
        self, principal: Principal, kinds: Collection[str]
    ) -> dict[str, list[tuple[str, Versioned[Mapping[str, object]]]]]:
        return self.library.factor_states_of(principal, kinds)

    def sessions_of(self, principal: Principal) -> list[tuple[str, Versioned[Session]]]:
        return self.library.sessions_of(principal)

    def subscriptions_inviting(self, principal: Principal) -> list[Subscription]:
        return self.library.subscriptions_inviting(principal)

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]:
        return self.library.audit_log(tenant)

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        return self.library.audit_head(tenant)

    def audit_tenants(self) -> list[str]:
        return self.library.audit_tenants()

    def anchor(self, at: datetime) -> list[SealedEvent]:
        return self.library.anchor(at)

    # -- the commit --------------------------------------------------------------------------

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        """Apply every change and seal every event in one transaction, or raise
        :class:`~securebox_auth.errors.ConcurrentUpdate` and change nothing."""
        ours: dict[tuple[str, str], PutAccount | PutCode | Expect] = {}
        theirs: list[Change] = []
        for change in changes:
            if isinstance(change, PutAccount | PutCode | Expect):
                record = (
                    change.record
                    if isinstance(change, Expect)
                    else ("account" if isinstance(change, PutAccount) else "code")
                )
                key = (record, change.principal.key)
                if key in ours:
                    raise MalformedInput("a commit changes each record once")
                ours[key] = change
            else:
                theirs.append(change)
        if not ours:
            self.library.commit(theirs, events)
            return
        ordered = [ours[key] for key in sorted(ours)]  # one lock order for every commit
        self.library.commit(theirs, events, also=lambda conn: self._apply(conn, ordered))

    def _apply(self, conn: Connection, changes: Sequence[PutAccount | PutCode | Expect]) -> None:
        for change in changes:
            if isinstance(change, Expect):
                self._check(conn, change)
            elif isinstance(change, PutAccount):
                self._put(conn, USERS, change, {}, _account_values(change.account))
            else:
                kind = {"credential_type": CODE_TYPE}
                self._put(conn, CREDENTIALS, change, kind, _code_values(change.credential))

    def _where(self, table: Table, principal: Principal, key: Mapping[str, str]) -> Any:
        login = {**_login(principal), **key}
        return and_(*(table.c[name] == value for name, value in login.items()))

    def _check(self, conn: Connection, guard: Expect) -> None:
        table, key = (
            (USERS, {})
            if guard.record == "account"
            else (CREDENTIALS, {"credential_type": CODE_TYPE})
        )
        query = select(table.c.sb_version).where(self._where(table, guard.principal, key))
        if self._postgresql:
            query = query.with_for_update(read=True)  # unchanged until the commit ends
        found = conn.execute(query).scalar()
        if (0 if found is None else int(found)) != guard.version:
            raise ConcurrentUpdate(_STALE)

    def _put(
        self,
        conn: Connection,
        table: Table,
        change: PutAccount | PutCode,
        key: Mapping[str, str],
        values: Mapping[str, Any],
    ) -> None:
        if change.expected_version == 0:
            row = {**_login(change.principal), **key, **values, "sb_version": 1}
            dialect = postgresql if self._postgresql else sqlite
            statement = dialect.insert(table).values(row).on_conflict_do_nothing()
        elif change.expected_version > 0:
            statement = (
                update(table)
                .where(
                    self._where(table, change.principal, key),
                    table.c.sb_version == change.expected_version,
                )
                .values(**values, sb_version=table.c.sb_version + 1)
            )
        else:
            raise ConcurrentUpdate(_STALE)
        if conn.execute(statement).rowcount != 1:
            raise ConcurrentUpdate(_STALE)
