""":meth:`~securebox_auth.stores.sql.store.SqlStore.read_session`: a session's row and one
factor state of its principal (the end-all watermark) in one statement.

Every signed-in request reads its session and then that watermark (a log out everywhere
ends every session opened before it, ADR 0067); as two statements they were two round trips
on PostgreSQL and two statements on SQLite for every page and API call. The join reads the
factor state of the principal the session row names, in the same snapshot.
"""

from __future__ import annotations

from typing import Final

from securebox_auth.policy.session_ids import is_session_id, session_key
from securebox_auth.stores.protocols import Versioned
from securebox_auth.stores.session_reads import SessionReads
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.principal_reads import factor_state_of
from securebox_auth.stores.sql.schema import FACTOR_STATES, SESSIONS

__all__ = ["SessionRead"]

_SESSION_COLUMNS: Final = tuple(c.name for c in SESSIONS.columns)
_FACTOR_COLUMNS: Final = tuple(c.name for c in FACTOR_STATES.columns)


class SessionRead:
    """The statement and the decoding of :meth:`SqlStore.read_session`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = db.sql(
            f"SELECT {', '.join(f's.{name}' for name in _SESSION_COLUMNS)}, w.state, w.version "
            "FROM sessions AS s LEFT JOIN factor_states AS w ON w.client_id = s.client_id "
            "AND w.user_number = s.user_number AND w.kind = ? AND w.item = ? WHERE s.id = ?"
        )

    def read(self, session_id: str, kind: str, item: str) -> SessionReads:
        if not is_session_id(session_id):
            return SessionReads(None, None)
        rows = self._db.fetch(self._sql, (kind, item, session_key(session_id)))
        if not rows:
            return SessionReads(None, None)
        found = rows[0]
        row = dict(zip(_SESSION_COLUMNS, found[: len(_SESSION_COLUMNS)], strict=True))
        session = codec.session_from_row(row)
        if session is None:
            return SessionReads(None, None)
        state_row = None
        if found[-1] is not None:  # the factor state's version: NULL when there is no row
            values = (row["client_id"], row["user_number"], kind, item, found[-2], found[-1])
            state_row = dict(zip(_FACTOR_COLUMNS, values, strict=True))
        return SessionReads(Versioned(session, row["version"]), factor_state_of(state_row))
