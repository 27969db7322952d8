"""``box_documents`` rows and :class:`~securebox_server.box.model.BoxDocument` values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.identity import ClientId, Siren
from securebox_server.box.model import BoxDocument, Status

__all__ = ["document_from_row", "document_row", "instant", "reference"]


def instant(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives text or naive values)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _maybe(value: Any) -> datetime | None:
    return None if value is None else instant(value)


def document_from_row(row: Mapping[str, Any] | RowMapping) -> BoxDocument:
    return BoxDocument(
        id=str(row["id"]),
        client_id=ClientId(row["client_id"]),
        company=Siren(row["company"]),
        sender=str(row["sender"]),
        type=str(row["type"]),
        theme=Theme(row["theme"]),
        label=str(row["label"]),
        issued_at=instant(row["issued_at"]),
        published_at=instant(row["published_at"]),
        valid_until=_maybe(row["valid_until"]),
        warn_at=_maybe(row["warn_at"]),
        warned_at=_maybe(row["warned_at"]),
        retention_class=str(row["retention_class"]),
        retain_until=instant(row["retain_until"]),
        legal_hold=bool(row["legal_hold"]),
        digest=str(row["digest"]),
        size=int(row["size"]),
        media_type=str(row["media_type"]),
        filename=str(row["filename"]),
        status=Status(row["status"]),
        expired_at=_maybe(row["expired_at"]),
        deleted_at=_maybe(row["deleted_at"]),
        deletion_reason=None if row["deletion_reason"] is None else str(row["deletion_reason"]),
    )


def document_row(doc: BoxDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "client_id": doc.client_id.value,
        "company": doc.company.value,
        "sender": doc.sender,
        "type": doc.type,
        "theme": doc.theme.name,
        "label": doc.label,
        "issued_at": doc.issued_at,
        "published_at": doc.published_at,
        "valid_until": doc.valid_until,
        "warn_at": doc.warn_at,
        "warned_at": doc.warned_at,
        "retention_class": doc.retention_class,
        "retain_until": doc.retain_until,
        "legal_hold": doc.legal_hold,
        "digest": doc.digest,
        "size": doc.size,
        "media_type": doc.media_type,
        "filename": doc.filename,
        "status": doc.status.value,
        "expired_at": doc.expired_at,
        "deleted_at": doc.deleted_at,
        "deletion_reason": doc.deletion_reason,
    }


def reference(doc: BoxDocument) -> DocumentRef:
    """The document's catalogue entry (what entitlements decide on)."""
    return DocumentRef(doc.client_id, doc.company, doc.theme, doc.id, doc.label, doc.issued_at)
