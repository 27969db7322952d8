"""Senders' document types (``box_document_types``): what each type is filed under, its
validity, its warning and its retention (ADR 0030)."""

from __future__ import annotations

from sqlalchemy import select

from securebox_auth.entitlements.model import Theme
from securebox_server.box.base import StoreBase
from securebox_server.box.model import DocumentType, UnknownDocumentType, sender_name
from securebox_server.db.schema import BOX_DOCUMENT_TYPES

__all__ = ["DocumentTypes"]


class DocumentTypes(StoreBase):
    """Each sender's document types."""

    def define_type(self, t: DocumentType) -> None:
        """Create or replace a sender's document type (new documents follow it)."""
        values = {
            "sender": t.sender,
            "type": t.type,
            "title": t.title,
            "theme": t.theme.name,
            "validity_days": t.validity_days,
            "warning_days": t.warning_days,
            "retention_class": t.retention_class,
            "retention_years": t.retention_years,
        }
        stmt = self.upsert(BOX_DOCUMENT_TYPES).values(**values)
        with self.db.transaction() as conn:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["sender", "type"],
                    set_={k: v for k, v in values.items() if k not in ("sender", "type")},
                )
            )

    def document_type(self, sender: str, type_: str) -> DocumentType:
        found = self._types(sender, sender_name(type_))
        if not found:
            raise UnknownDocumentType("this sender has no such document type")
        return found[0]

    def types_of(self, sender: str) -> list[DocumentType]:
        return self._types(sender, None)

    def _types(self, sender: str, type_: str | None) -> list[DocumentType]:
        query = select(BOX_DOCUMENT_TYPES).where(BOX_DOCUMENT_TYPES.c.sender == sender_name(sender))
        if type_ is not None:
            query = query.where(BOX_DOCUMENT_TYPES.c.type == type_)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(BOX_DOCUMENT_TYPES.c.type)).mappings().all()
        return [
            DocumentType(
                sender=r["sender"],
                type=r["type"],
                title=r["title"],
                theme=Theme(r["theme"]),
                validity_days=r["validity_days"],
                warning_days=int(r["warning_days"]),
                retention_class=r["retention_class"],
                retention_years=int(r["retention_years"]),
            )
            for r in rows
        ]
