"""What the parts of :class:`~securebox_server.box.documents.DocumentStore` share: the
engine, the library's SQL store (whose commits carry the box's writes), the blobs and the
catalogue, and how audit events name documents and senders."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from securebox_auth.clock import Clock
from securebox_auth.errors import MalformedInput
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.box.blobs import BlobStore

__all__ = ["StoreBase", "document_actor", "document_subject"]


def document_subject(document_id: str) -> str:
    """An audit subject naming a document (never read as a subscription or a principal)."""
    return f"document/{document_id}"


def document_actor(sender: str) -> str:
    """An audit actor naming a sender (never read as a principal)."""
    return f"sender/{sender}"


class StoreBase:
    def __init__(
        self, engine: Engine, securebox: Securebox, blobs: BlobStore, catalogue: SqlCatalogue
    ) -> None:
        store = securebox.store
        if not isinstance(store, SqlStore):
            raise MalformedInput("the digital box needs the SQL store")
        self.engine = engine
        self.securebox = securebox
        self.store: SqlStore = store
        self.blobs = blobs
        self.catalogue = catalogue
        self.db = Database(engine)
        self.postgresql = self.db.postgresql

    @property
    def clock(self) -> Clock:
        return self.securebox.clock

    def upsert(self, table: Table) -> Any:
        """``INSERT`` with ``ON CONFLICT`` clauses, in the engine's dialect."""
        return (postgresql.insert if self.postgresql else sqlite.insert)(table)
