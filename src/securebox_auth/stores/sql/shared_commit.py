"""A store commit that shares its transaction with the caller's own writes.

:meth:`~securebox_auth.stores.sql.store.SqlStore.commit` with ``also=``: the store's
compare-and-swap writes, the caller's statements (on a SQLAlchemy connection) and the sealed
audit events commit together or not at all. Used by the reference server to write a
document, its body, its notifications and its audit events in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import Connection

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import ConcurrentUpdate, SecureboxError
from securebox_auth.stores.sql.audit_chains import SqlAuditChains
from securebox_auth.stores.sql.database import Database, Writer
from securebox_auth.stores.sql.driver_errors import is_contention
from securebox_auth.stores.sql.writes import Write

__all__ = ["commit_sharing"]

_FAILED: Final = 3  # psycopg's TransactionStatus.INERROR


def commit_sharing(
    db: Database,
    audit: SqlAuditChains,
    apply: Callable[[Writer, Write], None],
    writes: Sequence[Write],
    events: Sequence[AuditEvent],
    chains: Sequence[str],
    also: Callable[[Connection], None],
) -> None:
    """Lock the audit heads of ``chains``, ``apply`` the ``writes``, run ``also`` and seal
    ``events``, on one SQLAlchemy connection (``BEGIN IMMEDIATE`` on SQLite): the store's
    statements go through a cursor of the same driver connection."""
    try:
        with db.transaction() as conn:
            cursor: Any = conn.connection.cursor()
            try:
                tx = Writer(cursor, db.postgresql)
                tx.opened_rows = tx.all(audit.lock_sql(chains))
                tx.opened = tx.opened_rows[0] if tx.opened_rows else None
                heads = audit.heads(tx, chains)
                for write in writes:
                    apply(tx, write)
                also(conn)
                driver: Any = conn.connection.driver_connection
                if db.postgresql and driver.info.transaction_status == _FAILED:
                    # an error inside ``also`` was caught there: COMMIT would roll back
                    raise ConcurrentUpdate("the transaction failed; try again")
                if events:
                    audit.seal(tx, heads, events)
            finally:
                cursor.close()
    except SecureboxError:
        raise
    except Exception as error:  # the driver's own errors come through the cursor
        if is_contention(error):
            raise ConcurrentUpdate("the database is busy; try again") from None
        raise
