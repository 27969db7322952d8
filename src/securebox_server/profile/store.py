"""The profile's tables (revision s0010): notification preferences and pending contact
changes. Reads and writes of plain rows; the decisions are in :mod:`.model`."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from securebox_auth.audit import AuditEvent
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.db.schema import PROFILE_CONTACT_CHANGES, PROFILE_PREFERENCES
from securebox_server.profile.model import (
    CHANGE_TTL,
    NewDocuments,
    PendingChange,
    Preferences,
)

__all__ = ["ProfileStore", "forget_preferences", "read_preferences"]

_P = PROFILE_PREFERENCES
_C = PROFILE_CONTACT_CHANGES


def _who(principal: Principal) -> dict[str, str]:
    return {"client_id": principal.client_id.value, "user_number": principal.user_number.value}


def read_preferences(conn: sa.Connection, client_id: str, user_number: str) -> Preferences:
    """The stored preferences of a user (the defaults when none are stored)."""
    row = conn.execute(
        sa.select(_P.c.new_documents, _P.c.language).where(
            _P.c.client_id == client_id, _P.c.user_number == user_number
        )
    ).first()
    if row is None:
        return Preferences()
    try:
        return Preferences(NewDocuments(row[0]), str(row[1]))
    except ValueError:
        return Preferences()


def forget_preferences(conn: sa.Connection, principal: Principal) -> None:
    """Delete ``principal``'s preferences and pending contact changes on ``conn`` (a user's
    removal, in the library's commit: ADR 0069)."""
    for table in (_P, _C):
        conn.execute(
            sa.delete(table).where(
                table.c.client_id == principal.client_id.value,
                table.c.user_number == principal.user_number.value,
            )
        )


class ProfileStore:
    """The profile's rows on the library's SQL store (a preference change and its audit
    event commit together)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.engine: Engine = store.engine
        # writes take SQLite's writer lock first (BEGIN IMMEDIATE, like every write)
        self._writer = store.engine.execution_options(**{WRITE_OPTION: True})

    def preferences(self, principal: Principal) -> Preferences:
        with self.engine.connect() as conn:
            return read_preferences(conn, principal.client_id.value, principal.user_number.value)

    def set_preferences(self, principal: Principal, chosen: Preferences, now: datetime) -> None:
        """Store ``chosen``, audited ``profile.preferences`` in the same transaction."""
        key = _who(principal)
        values = {
            "new_documents": chosen.new_documents.value,
            "language": chosen.language,
            "changed_at": now,
        }
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(_P).values(**key, **values)
        who = principal.key
        event = AuditEvent.make(
            now, "profile.preferences", actor=who, subject=who, outcome="success",
            details={k: str(v) for k, v in values.items() if k != "changed_at"},
        )  # fmt: skip

        def write(conn: sa.Connection) -> None:
            conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=values))

        self.store.commit([], [event], also=write)

    # -- pending contact changes ---------------------------------------------------------------

    def open_change(
        self, principal: Principal, channel: Channel, reference: str, challenge: str, now: datetime
    ) -> str:
        """A new pending change of ``channel``; any older pending one is superseded."""
        change_id = secrets.token_urlsafe(16)
        key = _who(principal)
        with self._writer.begin() as conn:
            conn.execute(
                _C.update()
                .where(*(_C.c[k] == v for k, v in key.items()))
                .where(_C.c.channel == channel.value, _C.c.status == "pending")
                .values(status="superseded")
            )
            conn.execute(
                _C.insert().values(
                    id=change_id,
                    **key,
                    channel=channel.value,
                    reference=reference,
                    challenge_id=challenge,
                    created_at=now,
                    expires_at=now + CHANGE_TTL,
                    status="pending",
                )
            )
        return change_id

    def change(self, principal: Principal, change_id: str) -> PendingChange | None:
        """The change ``change_id`` of ``principal`` (another user's is never found)."""
        if not isinstance(change_id, str) or not 1 <= len(change_id) <= 32:
            return None
        key = _who(principal)
        query = sa.select(_C).where(_C.c.id == change_id, *(_C.c[k] == v for k, v in key.items()))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return PendingChange(
            row["id"],
            Channel(row["channel"]),
            row["reference"],
            row["challenge_id"],
            row["expires_at"],
            row["status"],
        )

    def complete(self, change_id: str) -> bool:
        """Mark the change used: true for the one caller that moves it from pending."""
        with self._writer.begin() as conn:
            done = conn.execute(
                _C.update()
                .where(_C.c.id == change_id, _C.c.status == "pending")
                .values(status="done")
            )
        return done.rowcount == 1
