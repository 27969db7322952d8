"""What the parts of :class:`~securebox_server.box.documents.DocumentStore` share: the
engine, the library's SQL store (whose commits carry the box's writes), the blobs and the
catalogue, and how audit events name documents and senders."""

from __future__ import annotations

import re
from typing import Any, Final

from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from securebox_auth.clock import Clock
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.box.blobs import BlobStore
from securebox_server.box.model import BoxDocument
from securebox_server.box.rows import document_from_row
from securebox_server.db.schema import API_CLIENTS, BOX_COMPANY_CONTACTS, BOX_DOCUMENTS

__all__ = ["StoreBase", "audit_actor", "document_actor", "document_subject"]

_ACTOR: Final = re.compile(r"[\x21-\x7e]{1,100}")


def document_subject(document_id: str) -> str:
    """An audit subject naming a document (never read as a subscription or a principal)."""
    return f"document/{document_id}"


def audit_actor(value: object) -> str:
    """Who acts, as the audit trail names them (a principal key, ``sender/...``,
    ``operator/...``, ``system``): 1-100 visible ASCII characters."""
    if not isinstance(value, str) or not _ACTOR.fullmatch(value):
        raise MalformedInput("an actor is 1-100 visible ASCII characters")
    return value


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

    def get(self, document_id: str) -> BoxDocument | None:
        """The document's row, whatever its status (no entitlement check)."""
        if not isinstance(document_id, str) or not 1 <= len(document_id) <= 64:
            return None
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(BOX_DOCUMENTS).where(BOX_DOCUMENTS.c.id == document_id))
                .mappings()
                .first()
            )
        return None if row is None else document_from_row(row)

    def company_contact(self, client_id: ClientId, company: Siren) -> str | None:
        """The company's notification address (seed 003), if one is set."""
        query = select(BOX_COMPANY_CONTACTS.c.email).where(
            BOX_COMPANY_CONTACTS.c.client_id == client_id.value,
            BOX_COMPANY_CONTACTS.c.company == company.value,
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return None if found is None else str(found)

    def machines(self, client_id: ClientId) -> frozenset[Principal]:
        """The service accounts of the subscription: the library accounts of its API
        clients (receivers), active or revoked; they are never notified."""
        query = select(API_CLIENTS.c.principal).where(
            API_CLIENTS.c.subscription == client_id.value, API_CLIENTS.c.principal.is_not(None)
        )
        with self.engine.connect() as conn:
            keys = conn.execute(query).scalars().all()
        return frozenset(Principal.from_key(str(k)) for k in keys)
