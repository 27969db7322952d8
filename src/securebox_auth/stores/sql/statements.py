"""The SQL text of the commit's statement shapes, built once per store.

A commit (:meth:`~securebox_auth.stores.sql.store.SqlStore.commit`) writes each record kind
with three shapes of statement: an ``INSERT`` that does nothing on a conflict (a record that
must not exist yet), a compare-and-swap ``UPDATE ... WHERE version = ?`` and a version read
that a guard checks (``FOR SHARE`` on PostgreSQL: the row cannot change before the commit);
factor states also with a compare-and-swap ``DELETE`` of a live row
(:class:`~securebox_auth.stores.protocols.DropFactorState`).
"""

from __future__ import annotations

from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.writes import Kind, insert_sql

__all__ = ["Statements", "key_where"]


def key_where(kind: Kind) -> str:
    """``col1 = ? AND col2 = ?`` over the kind's key columns."""
    return " AND ".join(f"{k} = ?" for k in kind.key_columns)


class Statements:
    """``statements(kind, what, columns)``: the text of one shape (``"insert"``,
    ``"update"``, ``"delete"`` or ``"version"``), cached."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql: dict[tuple[int, str, tuple[str, ...]], str] = {}
        self._share = " FOR SHARE" if db.postgresql else ""

    def __call__(self, kind: Kind, what: str, columns: tuple[str, ...]) -> str:
        key = (kind.order, what, columns)
        found = self._sql.get(key)
        if found is None:
            where = key_where(kind)
            if what == "insert":
                conflict = f" ON CONFLICT ({', '.join(kind.key_columns)}) DO NOTHING"
                found = insert_sql(self._db, kind.table, columns, conflict)
            elif what == "delete":  # a live row (not a tombstone) at the expected version
                found = self._db.sql(
                    f"DELETE FROM {kind.table.name} "
                    f"WHERE {where} AND version = ? AND {columns[0]} IS NOT NULL"
                )
            elif what == "update":
                sets = ", ".join(f"{c} = ?" for c in columns)
                found = self._db.sql(
                    f"UPDATE {kind.table.name} SET {sets}, version = version + 1 "
                    f"WHERE {where} AND version = ?"
                )
            else:
                found = self._db.sql(
                    f"SELECT version FROM {kind.table.name} WHERE {where}{self._share}"
                )
            self._sql[key] = found
        return found
